"""Shapes of the conversions domain."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from im2.types import DbId, PeopleData

# How far back a click on a share link still counts as a touch (the im2_ref cookies live as
# long: see im2.sharing.public.REFERRER_DAYS).
ATTRIBUTION_DAYS = 30


class ConversionCreate(BaseModel):
    """An order from a shop. Identify the buyer by exactly one of `coupon_code`,
    `participant_id` or `share_code` (the share link the buyer came through)."""

    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(min_length=1, max_length=64, description="The shop's order id.")
    amount: Decimal = Field(description="The order's amount, e.g. 199.00.")
    currency: str = Field(description="ISO 4217 code, e.g. CNY.")
    occurred_at: datetime = Field(description="When the order was placed, with a time zone.")
    coupon_code: str | None = Field(default=None, max_length=64)
    participant_id: DbId | None = None
    share_code: str | None = Field(default=None, max_length=32)
    campaign_id: DbId | None = Field(
        default=None,
        description="With participant_id: the campaign to credit (default: the campaign "
        "through which the participant first joined).",
    )


class TouchRead(BaseModel):
    """A share link that brought the buyer: its code, channel, when, and whose link it is."""

    code: str
    channel: str | None
    at: datetime | None
    sharer_id: int | None


class ConversionRead(BaseModel):
    id: int
    order_id: str
    campaign_id: int
    amount: Decimal
    currency: str
    occurred_at: datetime
    recorded_at: datetime
    participant_id: int | None
    coupon_code: str | None
    share_code: str | None
    channel: str | None = Field(description="The channel credited (last touch).")
    referrer: str | None = Field(description="The share code credited (last touch).")
    first_touch: TouchRead | None
    last_touch: TouchRead | None

    @field_serializer("amount")
    def _amount(self, value: Decimal) -> str:
        return format(value, "f")


class ConversionPage(BaseModel):
    items: list[ConversionRead]
    next_cursor: str | None


# What this domain holds about people (im2.types.PeopleData, walked by im2.privacy.inventory).
# Conversions stay (anonymised): revenue and ROI do not change when a buyer is erased.
PEOPLE_DATA: tuple[PeopleData, ...] = (
    PeopleData(
        table="conversions",
        participant_columns=("participant_id", "first_touch_sharer_id", "last_touch_sharer_id"),
        code_columns=("share_code", "referrer", "first_touch_code", "last_touch_code"),
        identity_columns=("order_id",),
    ),
)
