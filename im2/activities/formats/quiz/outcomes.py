"""What the brand decides once answers come in: closing a question, entering a prediction's
outcome (which scores every prediction of it at once), and reviewing held answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.formats.common import HeldReview
from im2.activities.formats.quiz.models import QuizAnswer, QuizOption, QuizQuestion
from im2.activities.formats.quiz.schemas import QuizMode, SettleReceipt
from im2.activities.formats.quiz.service import is_closed, mode_of
from im2.activities.schemas import ActivityKind
from im2.errors import Conflict, InvalidInput, NotFound
from im2.events.schemas import EventKind
from im2.events.service import record_event
from im2.i18n import N_, _
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require


def do_settle(
    session: Session,
    *,
    actor: Actor,
    activity_id: int,
    question_id: int,
    option_id: int,
    now: datetime,
) -> SettleReceipt:
    """Enter a prediction's outcome and score every prediction of that question. Settling
    again with the same outcome changes nothing; a different outcome corrects the scores."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    activity = activities.load_activity(
        session, actor=actor, activity_id=activity_id, kind=ActivityKind.QUIZ
    )
    if mode_of(activity) is not QuizMode.PREDICTION:
        raise Conflict(_("Quiz answers are scored at once; only predictions are settled."))
    question = session.get(QuizQuestion, question_id, with_for_update=True)
    if question is None or question.activity_id != activity.id:
        raise NotFound(_("No such question in this activity."))
    option = session.get(QuizOption, option_id)
    if option is None or option.question_id != question.id:
        raise InvalidInput(_("That is not an option of this question."), field="option_id")
    changed = question.correct_option_id != option.id
    before = question.correct_option_id
    if changed:
        question.correct_option_id = option.id
        question.settled_at = now
        # Two set-based updates: every prediction is scored, however many there are.
        session.execute(
            update(QuizAnswer)
            .where(QuizAnswer.question_id == question.id)
            .values(
                correct=QuizAnswer.option_id == option.id,
                points=case((QuizAnswer.option_id == option.id, question.points), else_=0),
            )
        )
    answers, winners = session.execute(
        select(func.count(), func.sum(case((QuizAnswer.correct.is_(True), 1), else_=0))).where(
            QuizAnswer.question_id == question.id
        )
    ).one()
    if changed:
        record_audit(
            session,
            actor,
            "prediction.settle",
            ("quiz_question", question.id),
            f"{activity.title}: {question.text} → {option.label}",
            now=now,
            before={"correct_option_id": before},
            after={"correct_option_id": option.id},
            workspace_id=activity.workspace_id,
        )
        record_event(
            session,
            kind=EventKind.PREDICTION_SETTLED,
            occurred_at=now,
            workspace_id=activity.workspace_id,
            campaign_id=activity.campaign_id,
            activity_id=activity.id,
            actor_type=actor.type,
            actor_id=actor.id,
            properties={
                "question_id": question.id,
                "option_id": option.id,
                "answers": int(answers),
                "winners": int(winners or 0),
                "correction": before is not None,
            },
        )
    return SettleReceipt(
        question_id=question.id,
        correct_option_id=option.id,
        answers=int(answers),
        winners=int(winners or 0),
        changed=changed,
    )


def do_close_question(
    session: Session, *, actor: Actor, activity_id: int, question_id: int, now: datetime
) -> None:
    """Stop taking answers to a question now (a prediction at kick-off); closing a closed
    question changes nothing."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    activity = activities.load_activity(
        session, actor=actor, activity_id=activity_id, kind=ActivityKind.QUIZ
    )
    question = session.get(QuizQuestion, question_id)
    if question is None or question.activity_id != activity.id:
        raise NotFound(_("No such question in this activity."))
    if is_closed(question, now):
        return
    before = question.closes_at
    question.closes_at = now
    record_audit(
        session,
        actor,
        "quiz_question.close",
        ("quiz_question", question.id),
        f"{activity.title}: {question.text}",
        now=now,
        before={"closes_at": before.isoformat() if before else None},
        after={"closes_at": now.isoformat()},
        workspace_id=activity.workspace_id,
    )


# A held answer reviewed in the console: counted when approved, deleted when rejected (the
# person may then answer that question again).
do_review_answer = HeldReview(
    ActivityKind.QUIZ,
    QuizAnswer,
    "answer_id",
    N_("No such answer waiting for review."),
    "quiz_answer",
)
