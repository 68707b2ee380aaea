"""What the brand and the participants read of a quiz: answer counts per option, the
leaderboard (same score, same rank; earlier finish listed first), and the CSV export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.formats.common import held_rows
from im2.activities.formats.quiz.models import QuizAnswer, QuizEntry
from im2.activities.formats.quiz.schemas import (
    Leaderboard,
    LeaderRow,
    OptionStat,
    QuestionStat,
    QuizResults,
)
from im2.activities.formats.quiz.scoring import Tally, rank
from im2.activities.formats.quiz.service import (
    display_name,
    load_quiz,
    mode_of,
    options_by_question,
    questions_of,
)
from im2.activities.models import Activity
from im2.activities.schemas import ActivityKind
from im2.campaigns.schemas import CampaignRead
from im2.masking import mask_all, masked_for
from im2.workspaces.schemas import Actor


def results(session: Session, *, activity: Activity) -> QuizResults:
    counts: dict[int, int] = dict(
        session.execute(
            select(QuizAnswer.option_id, func.count())
            .where(QuizAnswer.activity_id == activity.id, QuizAnswer.held.is_(False))
            .group_by(QuizAnswer.option_id)
        ).all()
    )
    players = session.scalar(
        select(func.count(func.distinct(QuizAnswer.participant_id))).where(
            QuizAnswer.activity_id == activity.id, QuizAnswer.held.is_(False)
        )
    )
    held = session.scalar(
        select(func.count()).where(QuizAnswer.activity_id == activity.id, QuizAnswer.held.is_(True))
    )
    options = options_by_question(session, activity_id=activity.id)
    stats: list[QuestionStat] = []
    for q in questions_of(session, activity_id=activity.id):
        own = options.get(q.id, [])
        total = sum(counts.get(o.id, 0) for o in own)
        stats.append(
            QuestionStat(
                id=q.id,
                position=q.position + 1,
                text=q.text,
                points=q.points,
                settled=q.correct_option_id is not None,
                correct_option_id=q.correct_option_id,
                closes_at=q.closes_at,
                answers=total,
                options=[
                    OptionStat(
                        id=o.id,
                        label=o.label,
                        answers=counts.get(o.id, 0),
                        share=counts.get(o.id, 0) / total if total else 0.0,
                        correct=o.id == q.correct_option_id,
                    )
                    for o in own
                ],
            )
        )
    return QuizResults(
        activity_id=activity.id,
        title=activity.title,
        mode=mode_of(activity),
        players=int(players or 0),
        held=int(held or 0),
        questions=stats,
    )


def quiz_results(session: Session, *, actor: Actor, activity_id: int) -> QuizResults:
    return results(session, activity=load_quiz(session, actor=actor, activity_id=activity_id))


def leaderboard(
    session: Session, *, activity: Activity, limit: int = 50, participant_id: int | None = None
) -> Leaderboard:
    rows = session.execute(
        select(
            QuizAnswer.participant_id,
            func.sum(QuizAnswer.points),
            func.sum(case((QuizAnswer.correct.is_(True), 1), else_=0)),
            func.count(),
            func.max(QuizAnswer.answered_at),
        )
        .where(QuizAnswer.activity_id == activity.id, QuizAnswer.held.is_(False))
        .group_by(QuizAnswer.participant_id)
    ).all()
    names = dict(
        session.execute(
            select(QuizEntry.participant_id, QuizEntry.nickname).where(
                QuizEntry.activity_id == activity.id
            )
        ).all()
    )
    ranked = rank(
        [
            Tally(
                participant_id=pid,
                score=int(score or 0),
                correct=int(correct or 0),
                answered=int(answered),
                finished_at=finished,
            )
            for pid, score, correct, answered, finished in rows
        ]
    )
    board = [
        LeaderRow(
            rank=position,
            participant_id=t.participant_id,
            name=display_name(t.participant_id, names.get(t.participant_id)),
            score=t.score,
            correct=t.correct,
            answered=t.answered,
            finished_at=t.finished_at,
        )
        for position, t in ranked
    ]
    mine = next((r for r in board if r.participant_id == participant_id), None)
    return Leaderboard(activity_id=activity.id, title=activity.title, rows=board[:limit], mine=mine)


def quiz_leaderboard(
    session: Session, *, actor: Actor, activity_id: int, limit: int = 100
) -> Leaderboard:
    activity = load_quiz(session, actor=actor, activity_id=activity_id)
    board = leaderboard(session, activity=activity, limit=limit)
    # Players' names are masked for console users and tokens without people:read.
    masked = masked_for(actor)
    return board.model_copy(update={"rows": mask_all(board.rows, masked=masked, names=("name",))})


def export_quiz(session: Session, *, actor: Actor, activity_id: int) -> list[dict[str, Any]]:
    activity = load_quiz(session, actor=actor, activity_id=activity_id)
    questions = {q.id: q for q in questions_of(session, activity_id=activity.id)}
    labels = {
        o.id: o.label
        for own in options_by_question(session, activity_id=activity.id).values()
        for o in own
    }
    names = dict(
        session.execute(
            select(QuizEntry.participant_id, QuizEntry.nickname).where(
                QuizEntry.activity_id == activity.id
            )
        ).all()
    )
    rows = session.scalars(
        select(QuizAnswer).where(QuizAnswer.activity_id == activity.id).order_by(QuizAnswer.id)
    )
    return [
        {
            "answer_id": a.id,
            "participant_id": a.participant_id,
            "nickname": names.get(a.participant_id) or "",
            "question_no": questions[a.question_id].position + 1,
            "question": questions[a.question_id].text,
            "option": labels.get(a.option_id, ""),
            "correct": "" if a.correct is None else a.correct,
            "points": a.points,
            "seconds": "" if a.elapsed_ms is None else f"{a.elapsed_ms / 1000:.1f}",
            "answered_at": a.answered_at.isoformat(),
            "held_for_review": a.held,
            "risk_reasons": a.risk_reasons or "",
        }
        for a in rows
    ]


def public_leaderboard(
    session: Session, *, slug: str, activity_id: int, device_id: str, limit: int = 20
) -> tuple[CampaignRead, Leaderboard]:
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.QUIZ
    )
    participant = activities.participant_for(session, public=public, device_id=device_id)
    board = leaderboard(
        session,
        activity=row,
        limit=limit,
        participant_id=participant.id if participant else None,
    )
    return public.campaign, board


@dataclass(frozen=True, slots=True)
class HeldAnswer:
    id: int
    participant_id: int
    answered_at: datetime
    question: str
    option: str
    reasons: str


def list_held(session: Session, *, actor: Actor, activity_id: int) -> list[HeldAnswer]:
    activity = load_quiz(session, actor=actor, activity_id=activity_id)
    questions = {q.id: q.text for q in questions_of(session, activity_id=activity.id)}
    labels = {
        o.id: o.label
        for own in options_by_question(session, activity_id=activity.id).values()
        for o in own
    }
    rows = held_rows(session, model=QuizAnswer, activity_id=activity.id)
    return [
        HeldAnswer(
            id=a.id,
            participant_id=a.participant_id,
            answered_at=a.answered_at,
            question=questions.get(a.question_id, ""),
            option=labels.get(a.option_id, ""),
            reasons=a.risk_reasons or "",
        )
        for a in rows
    ]
