"""Quiz and prediction game (竞猜).

A quiz knows its correct answers: each answer is scored when it arrives, with an optional time
bonus measured on the server from when the device first saw the question. A prediction has no
correct answer until the brand enters the outcome; settling scores every prediction of that
question at once, and settling again with the same outcome changes nothing.

One answer per participant per question is a unique index, so racing requests cannot both land.
Ranking: the same score shares a rank; within it, whoever finished first is listed first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.formats.common import (
    acting_event,
    add_activity,
    console_activity,
    update_texts,
)
from im2.activities.formats.quiz.models import (
    QuizAnswer,
    QuizEntry,
    QuizOption,
    QuizQuestion,
    QuizShown,
)
from im2.activities.formats.quiz.schemas import (
    AnswerReceipt,
    QuestionPublic,
    QuizCreate,
    QuizMode,
    QuizState,
)
from im2.activities.formats.quiz.scoring import answer_points
from im2.activities.models import Activity
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignRead
from im2.errors import Conflict, InvalidInput
from im2.events.schemas import EventKind
from im2.i18n import _
from im2.participation.schemas import Visitor
from im2.workspaces.schemas import Actor


def mode_of(activity: Activity | ActivityRead) -> QuizMode:
    return QuizMode(activity.settings.get("mode", QuizMode.QUIZ.value))


def bonus_seconds_of(activity: Activity) -> int | None:
    settings = activity.settings
    return int(settings.get("bonus_seconds", 20)) if settings.get("time_bonus") else None


def questions_of(session: Session, *, activity_id: int) -> list[QuizQuestion]:
    return list(
        session.scalars(
            select(QuizQuestion)
            .where(QuizQuestion.activity_id == activity_id)
            .order_by(QuizQuestion.position)
        )
    )


def options_by_question(session: Session, *, activity_id: int) -> dict[int, list[QuizOption]]:
    rows = session.scalars(
        select(QuizOption)
        .join(QuizQuestion, QuizQuestion.id == QuizOption.question_id)
        .where(QuizQuestion.activity_id == activity_id)
        .order_by(QuizOption.question_id, QuizOption.position)
    )
    found: dict[int, list[QuizOption]] = {}
    for row in rows:
        found.setdefault(row.question_id, []).append(row)
    return found


def display_name(participant_id: int, nickname: str | None) -> str:
    return nickname or _("Participant #{id}").format(id=participant_id)


# --- console ----------------------------------------------------------------------------------


def do_create_quiz(
    session: Session, *, actor: Actor, campaign_id: int, data: QuizCreate, now: datetime
) -> ActivityRead:
    for number, question in enumerate(data.questions, start=1):
        if len(set(question.options)) != len(question.options):
            raise InvalidInput(
                _("Question {n} has two options with the same text.").format(n=number),
                field="questions",
            )
        if data.mode is QuizMode.QUIZ and (
            question.correct is None or question.correct >= len(question.options)
        ):
            raise InvalidInput(
                _("Question {n} has no correct option.").format(n=number), field="questions"
            )
    closes_at = None
    if data.closes_at is not None:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
        closes_at = data.closes_at
        if closes_at.tzinfo is None:
            closes_at = closes_at.replace(tzinfo=ZoneInfo(campaign.timezone))
        closes_at = closes_at.astimezone(UTC)
        if closes_at <= now:
            raise InvalidInput(_("The closing time has already passed."), field="closes_at")
    settings: dict[str, Any] = {
        "mode": data.mode.value,
        "time_bonus": data.time_bonus and data.mode is QuizMode.QUIZ,
        "bonus_seconds": data.bonus_seconds,
    }
    row = add_activity(
        session,
        ActivityKind.QUIZ,
        actor=actor,
        campaign_id=campaign_id,
        data=data,
        settings=settings,
        now=now,
    )
    for position, question in enumerate(data.questions):
        q = QuizQuestion(
            activity_id=row.id,
            position=position,
            text=question.text,
            points=question.points,
            closes_at=closes_at,
        )
        session.add(q)
        session.flush()
        options = [
            QuizOption(question_id=q.id, position=i, label=label)
            for i, label in enumerate(question.options)
        ]
        session.add_all(options)
        session.flush()
        if data.mode is QuizMode.QUIZ and question.correct is not None:
            q.correct_option_id = options[question.correct].id
    session.flush()
    return activities.to_read(row)


def load_quiz(session: Session, *, actor: Actor, activity_id: int) -> Activity:
    return console_activity(session, actor=actor, activity_id=activity_id, kind=ActivityKind.QUIZ)


# --- participants ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuizView:
    campaign: CampaignRead
    activity: ActivityRead
    state: QuizState
    participant_id: int | None
    nickname: str | None
    needs_stamp: bool


def is_closed(question: QuizQuestion, now: datetime) -> bool:
    return question.closes_at is not None and now >= question.closes_at


def _state(
    session: Session,
    *,
    activity: Activity,
    campaign: CampaignRead,
    participant_id: int | None,
    now: datetime,
) -> QuizState:
    mine: dict[int, QuizAnswer] = {}
    if participant_id is not None:
        mine = {
            a.question_id: a
            for a in session.scalars(
                select(QuizAnswer).where(
                    QuizAnswer.activity_id == activity.id,
                    QuizAnswer.participant_id == participant_id,
                )
            )
        }
    options = options_by_question(session, activity_id=activity.id)
    reason = activities.closed_reason(campaign)
    questions = [
        QuestionPublic(
            id=q.id,
            position=q.position + 1,
            text=q.text,
            points=q.points,
            options=[(o.id, o.label) for o in options.get(q.id, [])],
            settled=mode_of(activity) is QuizMode.PREDICTION and q.correct_option_id is not None,
            closed=is_closed(q, now),
            my_option_id=mine[q.id].option_id if q.id in mine else None,
            my_points=mine[q.id].points if q.id in mine else None,
            my_correct=mine[q.id].correct if q.id in mine else None,
            correct_option_id=q.correct_option_id
            if (q.id in mine or mode_of(activity) is QuizMode.PREDICTION)
            else None,
        )
        for q in questions_of(session, activity_id=activity.id)
    ]
    current = next(
        (q.id for q in questions if q.my_option_id is None and not (q.settled or q.closed)), None
    )
    total = len(questions)
    if bonus_seconds_of(activity) is not None:
        questions = [q for q in questions if q.my_option_id is not None or q.id == current]
    return QuizState(
        activity_id=activity.id,
        title=activity.title,
        mode=mode_of(activity),
        open=reason is None,
        closed_reason=reason,
        questions=questions,
        total=total,
        current_question_id=current if reason is None else None,
        score=sum(a.points for a in mine.values() if not a.held),
    )


def view_quiz(
    session: Session, *, slug: str, activity_id: int, device_id: str, now: datetime
) -> QuizView:
    """What this device sees. A read: when `needs_stamp`, the caller then runs
    `do_mark_shown` in a write transaction (most views need none, so they take no write lock)."""
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.QUIZ
    )
    participant = activities.participant_for(session, public=public, device_id=device_id)
    pid = participant.id if participant else None
    state = _state(session, activity=row, campaign=public.campaign, participant_id=pid, now=now)
    needs_stamp = False
    if state.current_question_id is not None and device_id:
        needs_stamp = (
            session.scalar(
                select(QuizShown.id).where(
                    QuizShown.question_id == state.current_question_id,
                    QuizShown.device_id == device_id,
                )
            )
            is None
        )
    nickname = None
    if pid is not None:
        nickname = session.scalar(
            select(QuizEntry.nickname).where(
                QuizEntry.activity_id == row.id, QuizEntry.participant_id == pid
            )
        )
    return QuizView(
        campaign=public.campaign,
        activity=activities.to_read(row),
        state=state,
        participant_id=pid,
        nickname=nickname,
        needs_stamp=needs_stamp,
    )


def do_mark_shown(session: Session, *, question_id: int, device_id: str, now: datetime) -> None:
    """Start this device's clock on a question; the first stamp stays (a reload changes
    nothing), so the time bonus cannot be reset."""
    try:
        with session.begin_nested():
            session.add(QuizShown(question_id=question_id, device_id=device_id, shown_at=now))
            session.flush()
    except IntegrityError:
        pass  # seen before, perhaps in a racing tab: the first stamp counts


def check_answer(
    session: Session, *, activity: Activity, question_id: int, option_id: int, now: datetime
) -> tuple[QuizQuestion, QuizOption]:
    """The question (this activity's, still open) and the option (that question's) an answer
    names."""
    question = session.get(QuizQuestion, question_id)
    if question is None or question.activity_id != activity.id:
        raise InvalidInput(_("That is not a question of this activity."), field="question_id")
    option = session.get(QuizOption, option_id)
    if option is None or option.question_id != question.id:
        raise InvalidInput(_("That is not an option of this question."), field="option")
    if mode_of(activity) is QuizMode.PREDICTION and question.correct_option_id is not None:
        raise Conflict(_("This prediction is closed: the outcome is known."), field="option")
    if is_closed(question, now):
        raise Conflict(_("Answers to this question are closed."), field="option")
    return question, option


def _add_answer(
    session: Session,
    *,
    activity: Activity,
    question: QuizQuestion,
    option: QuizOption,
    participant_id: int,
    device_id: str,
    held: bool,
    risk_reasons: tuple[str, ...],
    now: datetime,
) -> QuizAnswer:
    """Score the answer (a quiz's at once, with the time since the question was shown to this
    device; a prediction's when its outcome is entered) and write it: a unique index refuses
    a second answer of one person, whichever request comes second."""
    mode = mode_of(activity)
    shown_at = session.scalar(
        select(QuizShown.shown_at).where(
            QuizShown.question_id == question.id, QuizShown.device_id == device_id
        )
    )
    elapsed_ms = int((now - shown_at).total_seconds() * 1000) if shown_at else None
    correct = option.id == question.correct_option_id if mode is QuizMode.QUIZ else None
    points = (
        answer_points(
            base=question.points,
            correct=bool(correct),
            elapsed_ms=elapsed_ms,
            bonus_seconds=bonus_seconds_of(activity),
        )
        if mode is QuizMode.QUIZ
        else 0
    )
    answer = QuizAnswer(
        activity_id=activity.id,
        question_id=question.id,
        participant_id=participant_id,
        option_id=option.id,
        answered_at=now,
        elapsed_ms=elapsed_ms,
        correct=correct,
        points=points,
        held=held,
        risk_reasons="; ".join(risk_reasons)[:500] or None,
    )
    try:
        with session.begin_nested():
            session.add(answer)
            session.flush()
    except IntegrityError:
        raise Conflict(_("You have already answered this question."), field="option") from None
    return answer


def _score(session: Session, *, activity_id: int, participant_id: int) -> int:
    """The person's points in this quiz, held answers left out."""
    score = session.scalar(
        select(func.sum(QuizAnswer.points)).where(
            QuizAnswer.activity_id == activity_id,
            QuizAnswer.participant_id == participant_id,
            QuizAnswer.held.is_(False),
        )
    )
    return int(score or 0)


def do_answer(
    session: Session,
    *,
    slug: str,
    activity_id: int,
    visitor: Visitor,
    question_id: int,
    option_id: int,
    consented: bool,
    nickname: str | None,
    seconds_on_page: float | None,
    risk_threshold: float,
    identities_per_ip_hour: int,
    now: datetime,
) -> AnswerReceipt:
    """Answer one question: the campaign live, the question this activity's and still open,
    the option that question's, and no earlier answer by this person (a unique index)."""
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.QUIZ
    )
    activities.require_open(public)
    question, option = check_answer(
        session, activity=row, question_id=question_id, option_id=option_id, now=now
    )
    mode = mode_of(row)
    acting = activities.join_and_assess(
        session,
        public=public,
        visitor=visitor,
        consented=consented,
        seconds_on_page=seconds_on_page,
        risk_threshold=risk_threshold,
        identities_per_ip_hour=identities_per_ip_hour,
        now=now,
    )
    pid = acting.participant.id
    answer = _add_answer(
        session,
        activity=row,
        question=question,
        option=option,
        participant_id=pid,
        device_id=visitor.device_id,
        held=acting.held,
        risk_reasons=acting.risk.reasons,
        now=now,
    )
    correct, points = answer.correct, answer.points
    _remember_entry(session, activity_id=row.id, participant_id=pid, nickname=nickname, now=now)
    acting_event(
        session,
        EventKind.QUIZ_ANSWERED,
        activity=row,
        acting=acting,
        now=now,
        visitor=visitor,
        question_id=question.id,
        option_id=option.id,
        mode=mode.value,
        correct=correct,
        points=points,
    )
    score = _score(session, activity_id=row.id, participant_id=pid)
    return AnswerReceipt(
        answer_id=answer.id,
        question_id=question.id,
        option_id=option.id,
        correct=correct,
        correct_option_id=question.correct_option_id if mode is QuizMode.QUIZ else None,
        points=points,
        score=score,
        held_for_review=acting.held,
    )


def _remember_entry(
    session: Session, *, activity_id: int, participant_id: int, nickname: str | None, now: datetime
) -> None:
    entry = session.scalar(
        select(QuizEntry).where(
            QuizEntry.activity_id == activity_id, QuizEntry.participant_id == participant_id
        )
    )
    if entry is None:
        entry = QuizEntry(
            activity_id=activity_id, participant_id=participant_id, nickname=None, created_at=now
        )
        try:
            with session.begin_nested():
                session.add(entry)
                session.flush()
        except IntegrityError:
            return  # a concurrent first answer made it; the nickname can follow next time
    if nickname:
        entry.nickname = nickname


do_update_quiz = update_texts(ActivityKind.QUIZ)
