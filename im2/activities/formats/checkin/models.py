"""Tables of the daily check-in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class CheckinDay(Base):
    """One check-in: a participant on one local day (in the campaign's time zone)."""

    __tablename__ = "checkin_days"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD, local to the campaign
    # Consecutive local days ending with this one; kept on the row so streaks and the
    # leaderboard are read without walking a participant's history.
    streak: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    held: Mapped[bool] = mapped_column(default=False)
    risk_reasons: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        UniqueConstraint("activity_id", "participant_id", "day"),
        Index("ix_checkin_days_activity_day", "activity_id", "day"),
    )
