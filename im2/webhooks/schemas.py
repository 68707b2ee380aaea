"""Shapes of the webhooks domain."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from im2.i18n import N_
from im2.types import PeopleData

SIGNATURE_HEADER = "IM2-Signature"
EVENT_HEADER = "IM2-Event"
DELIVERY_HEADER = "IM2-Delivery"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


DELIVERY_STATUS_LABELS = {
    DeliveryStatus.PENDING.value: N_("Pending"),
    DeliveryStatus.DELIVERED.value: N_("Delivered"),
    DeliveryStatus.FAILED.value: N_("Failed"),
}


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=500, description="Where to POST: an http:// or https:// URL.")
    description: str | None = Field(default=None, max_length=200)
    kinds: list[str] = Field(description="Event kinds to send, e.g. conversion.recorded.")
    active: bool = True


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=200)
    kinds: list[str] | None = None
    active: bool | None = None


class WebhookRead(BaseModel):
    id: int
    url: str
    description: str | None
    kinds: list[str]
    active: bool
    secret_hint: str = Field(description="The secret's last four characters.")
    created_at: datetime
    updated_at: datetime
    secret_rotated_at: datetime | None


class WebhookWithSecret(WebhookRead):
    """Returned once, when the endpoint is created or its secret rotated."""

    secret: str


class DeliveryRead(BaseModel):
    id: int
    endpoint_id: int
    event_id: int
    kind: str
    status: DeliveryStatus
    attempts: int
    resends: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_response: str | None
    last_error: str | None
    last_duration_ms: int | None
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None


# What this domain holds about people (im2.types.PeopleData, walked by im2.privacy.inventory):
# a delivery's payload is an event's; erasure rewrites it as it rewrites the event.
PEOPLE_DATA: tuple[PeopleData, ...] = (
    PeopleData(
        table="webhook_deliveries",
        via="event_id->events.id",
        personal_columns=("payload", "last_response"),
    ),
)
