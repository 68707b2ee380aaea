"""Tables of the group-buy: teams for an offer, and their members."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class GroupbuyTeam(Base):
    __tablename__ = "groupbuy_teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(16), unique=True)  # in the team's share link
    leader_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    size: Mapped[int]  # members needed, copied from the offer when the team opens
    # Kept in step with the member rows; joins move it with a conditional UPDATE so that a team
    # can never take more than `size` members, and the CHECK refuses it even if code forgot.
    member_count: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(16))  # open, succeeded, failed
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("member_count >= 1 AND member_count <= size", name="members_within_size"),
        Index("ix_groupbuy_teams_activity_status", "activity_id", "status"),
        Index("ix_groupbuy_teams_status_expires", "status", "expires_at"),
    )


class GroupbuyMember(Base):
    __tablename__ = "groupbuy_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(
        ForeignKey("groupbuy_teams.id", ondelete="CASCADE"), index=True
    )
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    joined_at: Mapped[datetime]
    # True while the team is open: one open team per person and offer, enforced by the
    # partial unique index below (on SQLite and PostgreSQL alike).
    active: Mapped[bool] = mapped_column(default=True)
    held: Mapped[bool] = mapped_column(default=False)
    risk_reasons: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        UniqueConstraint("team_id", "participant_id"),
        Index(
            "uq_groupbuy_members_one_open_team",
            "activity_id",
            "participant_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )
