"""Tables of the incentives domain: points ledger, reward grants, coupons, prizes, rules.

The database enforces what must never happen: a key used twice (unique indexes), a code used
more often than allowed or a prize stock below zero (CHECK constraints). The balance is never
stored: it is the sum of a participant's ledger entries; the wallet row exists to be locked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class Wallet(Base):
    """One row per participant that has ever had points: the lock that serializes spends."""

    __tablename__ = "incentive_wallets"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("workspace_id", "participant_id"),)


class PointEntry(Base):
    """One line of the append-only points ledger. A credit may expire; an expiry entry names the
    credit it expires (`lot_id`). A voided held grant is recorded with a zero delta."""

    __tablename__ = "point_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))  # award, spend, expiry, void
    delta: Mapped[int]
    reason: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("point_entries.id", ondelete="CASCADE"))
    grant_id: Mapped[int | None] = mapped_column(
        ForeignKey("reward_grants.id", ondelete="SET NULL")
    )
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("point_rules.id", ondelete="SET NULL"))
    event_id: Mapped[int | None]

    __table_args__ = (
        UniqueConstraint("workspace_id", "key"),
        CheckConstraint("delta <> 0 OR kind = 'void'", name="delta_not_zero"),
        CheckConstraint("kind <> 'award' OR delta > 0", name="award_positive"),
        CheckConstraint("kind NOT IN ('spend', 'expiry') OR delta < 0", name="debit_negative"),
        Index("ix_point_entries_participant", "workspace_id", "participant_id", "id"),
        Index("ix_point_entries_rule_participant", "rule_id", "participant_id", "created_at"),
    )


class RewardGrant(Base):
    """A reward given (or held for review) to a participant; idempotent by key per workspace."""

    __tablename__ = "reward_grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))
    points: Mapped[int | None]
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("coupon_pools.id", ondelete="SET NULL"))
    prize_id: Mapped[int | None] = mapped_column(ForeignKey("prizes.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(14))  # granted, held, voided, out_of_stock
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    coupon_id: Mapped[int | None] = mapped_column(
        ForeignKey("coupon_codes.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(120))

    __table_args__ = (
        UniqueConstraint("workspace_id", "key"),
        Index("ix_reward_grants_status", "workspace_id", "status", "campaign_id"),
        Index("ix_reward_grants_participant", "participant_id", "campaign_id"),
    )


class CouponPool(Base):
    """A set of codes for one offer: generated (with a check character) or imported."""

    __tablename__ = "coupon_pools"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(String(300), default="")
    source: Mapped[str] = mapped_column(String(10))  # generated, imported
    max_uses: Mapped[int]
    expires_at: Mapped[datetime | None]
    cost_points: Mapped[int | None]  # in the points store when set
    created_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("campaign_id", "name"),
        CheckConstraint("max_uses >= 1", name="max_uses_positive"),
        CheckConstraint("cost_points IS NULL OR cost_points > 0", name="cost_positive"),
    )


class CouponCode(Base):
    """One code. `uses <= max_uses` is the database's rule, so a code is never over-redeemed."""

    __tablename__ = "coupon_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    pool_id: Mapped[int] = mapped_column(ForeignKey("coupon_pools.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )
    issued_at: Mapped[datetime | None]
    uses: Mapped[int] = mapped_column(default=0)
    max_uses: Mapped[int]
    expires_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("workspace_id", "code"),
        CheckConstraint("uses >= 0 AND uses <= max_uses", name="uses_within_max"),
        Index("ix_coupon_codes_pool_free", "pool_id", "issued_at"),
        Index("ix_coupon_codes_participant", "participant_id"),
    )


class Redemption(Base):
    """One use of a code at a shop; flagged for review when the code travels too far."""

    __tablename__ = "coupon_redemptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    code_id: Mapped[int] = mapped_column(ForeignKey("coupon_codes.id", ondelete="CASCADE"))
    order_id: Mapped[str | None] = mapped_column(String(80))
    store: Mapped[str | None] = mapped_column(String(80))
    ip: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime]
    review: Mapped[str | None] = mapped_column(String(10))  # flagged, approved, voided
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(120))

    __table_args__ = (
        UniqueConstraint("workspace_id", "code_id", "order_id"),
        Index("ix_coupon_redemptions_code_created", "code_id", "created_at"),
        Index("ix_coupon_redemptions_review", "workspace_id", "review"),
    )


class Prize(Base):
    """A physical or virtual prize with a stock the database never lets go below zero.

    The same stock serves the points store, reward grants and lucky draws that use the prize
    (`draw_prizes.prize_id`). A scheduled draw moves its units from `stock` to `reserved` when it
    is created, so what its published commitment promises can always be paid; the draw takes its
    winners' units from `reserved` and gives back what nobody won."""

    __tablename__ = "prizes"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(String(300), default="")
    units: Mapped[int]
    stock: Mapped[int]
    reserved: Mapped[int] = mapped_column(default=0, server_default="0")
    cost_points: Mapped[int | None]
    created_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("campaign_id", "name"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("units >= 0", name="units_not_negative"),
        CheckConstraint("cost_points IS NULL OR cost_points > 0", name="cost_positive"),
    )


class PrizeClaim(Base):
    """A unit of a prize handed to a participant: by a grant, bought in the store
    (`source="grant"`), or won in a lucky draw (`source="draw"`)."""

    __tablename__ = "prize_claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    prize_id: Mapped[int] = mapped_column(ForeignKey("prizes.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    grant_id: Mapped[int | None] = mapped_column(
        ForeignKey("reward_grants.id", ondelete="SET NULL")
    )
    source: Mapped[str] = mapped_column(String(8), default="grant", server_default="grant")
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_prize_claims_participant", "participant_id", "campaign_id"),)


class PointRule(Base):
    """Points for an event kind in one campaign, with optional per-participant caps."""

    __tablename__ = "point_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    event_kind: Mapped[str] = mapped_column(String(40))
    points: Mapped[int]
    daily_cap: Mapped[int | None]
    total_cap: Mapped[int | None]
    expires_days: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("campaign_id", "event_kind"),
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("daily_cap IS NULL OR daily_cap > 0", name="daily_cap_positive"),
        CheckConstraint("total_cap IS NULL OR total_cap > 0", name="total_cap_positive"),
        CheckConstraint("expires_days IS NULL OR expires_days > 0", name="expires_positive"),
    )


class Cursor(Base):
    """How far a follower of the event log has got (one row per follower)."""

    __tablename__ = "incentive_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime]
