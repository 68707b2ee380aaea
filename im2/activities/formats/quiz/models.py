"""Tables of the quiz / prediction format."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class QuizQuestion(Base):
    __tablename__ = "quiz_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    text: Mapped[str] = mapped_column(String(300))
    points: Mapped[int] = mapped_column(default=10)
    # Known from the start for a quiz; entered by the brand when a prediction is settled.
    correct_option_id: Mapped[int | None]
    settled_at: Mapped[datetime | None]
    # No answers from this moment on: a prediction closes at kick-off, long before the outcome.
    closes_at: Mapped[datetime | None]


class QuizOption(Base):
    __tablename__ = "quiz_options"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("quiz_questions.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    label: Mapped[str] = mapped_column(String(120))


class QuizShown(Base):
    """When a device first saw a question: the time bonus is measured from here, on the
    server's clock, so reloading the page never restarts the stopwatch."""

    __tablename__ = "quiz_shown"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("quiz_questions.id", ondelete="CASCADE"))
    device_id: Mapped[str] = mapped_column(String(40))
    shown_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("question_id", "device_id"),)


class QuizEntry(Base):
    """One participant in one quiz: the optional nickname shown on the leaderboard."""

    __tablename__ = "quiz_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    nickname: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("activity_id", "participant_id"),)


class QuizAnswer(Base):
    __tablename__ = "quiz_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("quiz_questions.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    option_id: Mapped[int] = mapped_column(ForeignKey("quiz_options.id", ondelete="CASCADE"))
    answered_at: Mapped[datetime]
    elapsed_ms: Mapped[int | None]
    correct: Mapped[bool | None]  # None while a prediction is unsettled
    points: Mapped[int] = mapped_column(default=0)
    held: Mapped[bool] = mapped_column(default=False)
    risk_reasons: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        # One answer per person per question, whatever the concurrency.
        UniqueConstraint("question_id", "participant_id"),
        Index("ix_quiz_answers_activity_participant", "activity_id", "participant_id"),
    )
