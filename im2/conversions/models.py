"""Tables of the conversions domain."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class Conversion(Base):
    """An order a shop reported, with the touches it is attributed to."""

    __tablename__ = "conversions"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    order_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 4))
    currency: Mapped[str] = mapped_column(String(3))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    # What the shop sent to identify the buyer (one of them).
    coupon_code: Mapped[str | None] = mapped_column(String(64))
    share_code: Mapped[str | None] = mapped_column(String(16))
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL"), index=True
    )
    # Attribution: the channel and referrer credited (last touch), and both touches.
    channel: Mapped[str | None] = mapped_column(String(32))
    referrer: Mapped[str | None] = mapped_column(String(16))
    first_touch_code: Mapped[str | None] = mapped_column(String(16))
    first_touch_channel: Mapped[str | None] = mapped_column(String(32))
    first_touch_at: Mapped[datetime | None]
    first_touch_sharer_id: Mapped[int | None] = mapped_column(index=True)
    last_touch_code: Mapped[str | None] = mapped_column(String(16))
    last_touch_channel: Mapped[str | None] = mapped_column(String(32))
    last_touch_at: Mapped[datetime | None]
    last_touch_sharer_id: Mapped[int | None] = mapped_column(index=True)

    __table_args__ = (
        UniqueConstraint("workspace_id", "order_id"),
        CheckConstraint("amount >= 0", name="amount"),
        Index("ix_conversions_campaign_occurred", "campaign_id", "occurred_at"),
    )
