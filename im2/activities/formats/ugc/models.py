"""Tables of the UGC contest format."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class UgcEntry(Base):
    __tablename__ = "ugc_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    nickname: Mapped[str | None] = mapped_column(String(40))
    caption: Mapped[str] = mapped_column(String(1000), default="")
    # A random file name under <media_path>/ugc/<activity_id>/ (re-encoded, metadata stripped).
    image_name: Mapped[str | None] = mapped_column(String(80))
    image_width: Mapped[int | None]
    image_height: Mapped[int | None]
    video_url: Mapped[str | None] = mapped_column(String(500))
    video_host: Mapped[str | None] = mapped_column(String(40))
    # pending (in the moderation queue), approved (in the gallery), rejected
    status: Mapped[str] = mapped_column(String(12))
    # Why the entry was flagged for a moderator's attention ("keyword: …; negative sentiment")
    flags: Mapped[str | None] = mapped_column(String(500))
    risk_reasons: Mapped[str | None] = mapped_column(String(500))
    # Counted public votes; updated in the vote's own transaction.
    vote_count: Mapped[int] = mapped_column(default=0)
    winner_rank: Mapped[int | None]
    # The participant's n-th entry to this contest (1 … entries_per_participant): unique, so that
    # two submissions at once can never both take the last free place.
    slot: Mapped[int]
    created_at: Mapped[datetime]
    moderated_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_ugc_entries_activity_status", "activity_id", "status"),
        UniqueConstraint("activity_id", "participant_id", "slot"),
    )


class UgcVote(Base):
    __tablename__ = "ugc_votes"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("ugc_entries.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[str] = mapped_column(String(10))  # local date in the campaign's time zone
    seq: Mapped[int]  # the participant's n-th vote of that day in this contest
    held: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]

    # Both limits live in the database: one vote per entry per day, and at most the day's
    # allowance (seq runs 1..N) whatever the concurrency.
    __table_args__ = (
        UniqueConstraint("entry_id", "participant_id", "day"),
        UniqueConstraint("activity_id", "participant_id", "day", "seq"),
    )


class UgcScore(Base):
    __tablename__ = "ugc_scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ugc_entries.id", ondelete="CASCADE"))
    juror_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    score: Mapped[int]  # 0..10
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("entry_id", "juror_id"),)
