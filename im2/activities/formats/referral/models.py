"""Tables of the referral activity: one invite per invitee and activity, the milestones each
inviter has reached, and the job's cursor in the event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class ReferralInvite(Base):
    """A participant who joined through an inviter's share link, while a referral activity ran.

    `status` moves once, pending → qualified or held, with a conditional UPDATE: whatever the
    number of job runs, an invitee qualifies (and is rewarded) once."""

    __tablename__ = "referral_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    inviter_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    # The inviter's own inviter (level 2), when there is one; never deeper.
    level2_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL"), index=True
    )
    invitee_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    share_code: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(32))
    joined_at: Mapped[datetime]
    # pending → qualified, or held → (the brand's review) qualified or voided
    status: Mapped[str] = mapped_column(String(10))
    qualified_at: Mapped[datetime | None]
    qualified_by: Mapped[str | None] = mapped_column(String(40))  # the event kind
    qualify_event_id: Mapped[int | None]
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        UniqueConstraint("activity_id", "invitee_id"),
        CheckConstraint("inviter_id <> invitee_id", name="not_self"),
        CheckConstraint(
            "status IN ('pending', 'qualified', 'held', 'voided')", name="status_known"
        ),
        Index("ix_referral_invites_inviter", "activity_id", "inviter_id", "status"),
        Index("ix_referral_invites_invitee_status", "invitee_id", "status"),
        Index("ix_referral_invites_activity_joined", "activity_id", "joined_at"),
    )


class ReferralMilestone(Base):
    """An inviter reaching a milestone (n qualified friends): once, by the unique key."""

    __tablename__ = "referral_milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    inviter_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    friends: Mapped[int]
    reached_at: Mapped[datetime]
    held: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        UniqueConstraint("activity_id", "inviter_id", "friends"),
        CheckConstraint("friends >= 1", name="friends_positive"),
    )


class ReferralCursor(Base):
    """The last event id the qualification job has handled (one row, locked while it runs)."""

    __tablename__ = "referral_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime]


class ReferralClick(Base):
    """Whose share links a device has followed in a campaign (from `share.clicked`, once per
    pair): the edges the ring check walks, found by device without scanning the event log."""

    __tablename__ = "referral_clicks"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    device_id: Mapped[str] = mapped_column(String(40))
    sharer_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    first_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("campaign_id", "device_id", "sharer_id"),)
