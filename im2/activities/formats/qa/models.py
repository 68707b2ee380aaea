"""Tables of the live Q&A format."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class QaQuestion(Base):
    __tablename__ = "qa_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    nickname: Mapped[str | None] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(String(500))
    # pending (waiting for a moderator), approved (shown), hidden (removed by a moderator)
    status: Mapped[str] = mapped_column(String(12))
    pinned: Mapped[bool] = mapped_column(default=False)
    answered: Mapped[bool] = mapped_column(default=False)
    # Counted upvotes only (held ones are kept apart); updated in the upvote's transaction.
    upvotes: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    moderated_at: Mapped[datetime | None]
    risk_reasons: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (Index("ix_qa_questions_activity_status", "activity_id", "status"),)


class QaUpvote(Base):
    __tablename__ = "qa_upvotes"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("qa_questions.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    held: Mapped[bool] = mapped_column(default=False)

    # One upvote per person per question, enforced by the database whatever the concurrency.
    __table_args__ = (UniqueConstraint("question_id", "participant_id"),)
