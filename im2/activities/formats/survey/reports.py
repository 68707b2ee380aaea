"""What the brand reads of a survey: the summary per question (counts, averages, NPS, rank
aggregation, latest free texts) over submitted, unheld responses, and the CSV export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from im2.activities.formats.common import console_activity, held_rows
from im2.activities.formats.survey.logic import Q, summarize
from im2.activities.formats.survey.models import SurveyResponse
from im2.activities.formats.survey.schemas import QuestionKind, SurveySummary
from im2.activities.formats.survey.service import questions_of, stored
from im2.activities.models import Activity
from im2.activities.schemas import ActivityKind
from im2.workspaces.schemas import Actor


def load_survey(session: Session, *, actor: Actor, activity_id: int) -> Activity:
    return console_activity(session, actor=actor, activity_id=activity_id, kind=ActivityKind.SURVEY)


def _count(session: Session, *, activity_id: int, submitted: bool, held: bool) -> int:
    done = (
        SurveyResponse.submitted_at.is_not(None)
        if submitted
        else SurveyResponse.submitted_at.is_(None)
    )
    return int(
        session.scalar(
            select(func.count()).where(
                SurveyResponse.activity_id == activity_id, done, SurveyResponse.held.is_(held)
            )
        )
        or 0
    )


def summary(session: Session, *, activity: Activity) -> SurveySummary:
    questions = questions_of(session, activity_id=activity.id)
    values: dict[int, list[Any]] = {q.id: [] for q in questions}
    for answers in session.scalars(
        select(SurveyResponse.answers)
        .where(
            SurveyResponse.activity_id == activity.id,
            SurveyResponse.submitted_at.is_not(None),
            SurveyResponse.held.is_(False),
        )
        .order_by(SurveyResponse.submitted_at, SurveyResponse.id)
    ):
        for qid, value in stored(answers).items():
            if qid in values and value is not None:
                values[qid].append(value)
    return SurveySummary(
        activity_id=activity.id,
        title=activity.title,
        responses=_count(session, activity_id=activity.id, submitted=True, held=False),
        in_progress=_count(session, activity_id=activity.id, submitted=False, held=False),
        held=_count(session, activity_id=activity.id, submitted=True, held=True),
        questions=[summarize(q, values[q.id]) for q in questions],
    )


def survey_summary(session: Session, *, actor: Actor, activity_id: int) -> SurveySummary:
    return summary(session, activity=load_survey(session, actor=actor, activity_id=activity_id))


def _cell(question: Q, value: Any) -> str:
    if value is None:
        return ""
    labels = {o.id: o.label for o in question.options}
    if question.kind is QuestionKind.SINGLE:
        return labels.get(value, "")
    if question.kind is QuestionKind.MULTIPLE:
        return " | ".join(labels.get(v, "") for v in value)
    if question.kind is QuestionKind.RANKING:
        return " > ".join(labels.get(v, "") for v in value)
    return str(value)


def export_survey(
    session: Session, *, actor: Actor, activity_id: int
) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and one row per submitted response (drafts are not exported)."""
    activity = load_survey(session, actor=actor, activity_id=activity_id)
    questions = questions_of(session, activity_id=activity.id)
    heads = {q.id: f"Q{q.position} {q.text}" for q in questions}
    columns = ["response_id", "participant_id", "submitted_at", "held_for_review"]
    columns += list(heads.values())
    rows = []
    for response in session.scalars(
        select(SurveyResponse)
        .where(SurveyResponse.activity_id == activity.id, SurveyResponse.submitted_at.is_not(None))
        .order_by(SurveyResponse.submitted_at, SurveyResponse.id)
    ):
        answers = stored(response.answers)
        row: dict[str, Any] = {
            "response_id": response.id,
            "participant_id": response.participant_id,
            "submitted_at": response.submitted_at.isoformat() if response.submitted_at else "",
            "held_for_review": response.held,
        }
        for q in questions:
            row[heads[q.id]] = _cell(q, answers.get(q.id))
        rows.append(row)
    return columns, rows


@dataclass(frozen=True, slots=True)
class HeldResponse:
    id: int
    participant_id: int
    submitted_at: datetime | None
    answered: int
    reasons: str


def list_held(session: Session, *, actor: Actor, activity_id: int) -> list[HeldResponse]:
    activity = load_survey(session, actor=actor, activity_id=activity_id)
    rows = held_rows(session, model=SurveyResponse, activity_id=activity.id)
    return [
        HeldResponse(
            id=r.id,
            participant_id=r.participant_id,
            submitted_at=r.submitted_at,
            answered=len(r.answers),
            reasons=r.risk_reasons or "",
        )
        for r in rows
    ]
