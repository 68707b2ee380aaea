"""Tables of the poll format."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class PollOption(Base):
    __tablename__ = "poll_options"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    label: Mapped[str] = mapped_column(String(80))
    image_url: Mapped[str | None] = mapped_column(String(500))
    vote_count: Mapped[int] = mapped_column(default=0)


class PollBallot(Base):
    __tablename__ = "poll_ballots"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    # "once" for one-ballot polls, else the local date (YYYY-MM-DD) in the campaign's zone.
    day: Mapped[str] = mapped_column(String(10))
    seq: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    held: Mapped[bool] = mapped_column(default=False)
    risk_reasons: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        UniqueConstraint("activity_id", "participant_id", "day", "seq"),
        Index("ix_poll_ballots_activity_held", "activity_id", "held"),
    )


class PollChoice(Base):
    __tablename__ = "poll_choices"

    id: Mapped[int] = mapped_column(primary_key=True)
    ballot_id: Mapped[int] = mapped_column(
        ForeignKey("poll_ballots.id", ondelete="CASCADE"), index=True
    )
    option_id: Mapped[int] = mapped_column(ForeignKey("poll_options.id", ondelete="CASCADE"))

    __table_args__ = (UniqueConstraint("ballot_id", "option_id"),)
