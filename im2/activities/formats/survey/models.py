"""Tables of the survey format."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class SurveyQuestion(Base):
    __tablename__ = "survey_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]  # 1-based, as the participant and the skip rules count
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(String(300))
    required: Mapped[bool] = mapped_column(default=False)


class SurveyOption(Base):
    __tablename__ = "survey_options"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("survey_questions.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    label: Mapped[str] = mapped_column(String(120))
    # Skip logic on single-choice options: jump to this question position; 0 ends the survey.
    skip_to: Mapped[int | None]


class SurveyResponse(Base):
    """One participant's answers: a draft that survives reloads until it is submitted.
    The unique index makes "one submission per participant" hold under concurrency."""

    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    held: Mapped[bool] = mapped_column(default=False)
    risk_reasons: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        UniqueConstraint("activity_id", "participant_id"),
        Index("ix_survey_responses_activity_submitted", "activity_id", "submitted_at"),
    )
