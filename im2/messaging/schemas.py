"""Shapes of the messaging domain."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from im2.i18n import N_
from im2.types import PeopleData


class SmsProvider(StrEnum):
    ALIYUN = "aliyun"
    TENCENT = "tencent"


PROVIDER_LABELS = {
    SmsProvider.ALIYUN.value: N_("Alibaba Cloud SMS"),
    SmsProvider.TENCENT.value: N_("Tencent Cloud SMS"),
}


class MessageKind(StrEnum):
    """What a message is for; each kind has its own template at the provider."""

    VERIFY_CODE = "verify_code"


KIND_LABELS = {MessageKind.VERIFY_CODE.value: N_("Verification code")}


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


DELIVERY_STATUS_LABELS = {
    DeliveryStatus.PENDING.value: N_("Queued"),
    DeliveryStatus.SENT.value: N_("Accepted by the provider"),
    DeliveryStatus.FAILED.value: N_("Failed"),
}


class SmsSettingsUpdate(BaseModel):
    """The console's form. A blank secret keeps the stored one (it is never shown again)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    provider: SmsProvider
    access_key_id: str = Field(min_length=1, max_length=128)
    access_key_secret: str | None = Field(default=None, max_length=256)
    sign_name: str = Field(min_length=1, max_length=64)
    # Tencent only: the SMS application (SmsSdkAppId) and the region of the API.
    app_id: str | None = Field(default=None, max_length=32)
    region: str | None = Field(default=None, max_length=32)
    verify_template: str = Field(min_length=1, max_length=64)
    daily_cap_per_number: int = Field(default=10, ge=1, le=1000)
    active: bool = True


class SmsSettingsRead(BaseModel):
    provider: SmsProvider
    access_key_id: str
    secret_hint: str = Field(description="The secret's last four characters.")
    sign_name: str
    app_id: str | None
    region: str | None
    templates: dict[str, str]
    daily_cap_per_number: int
    active: bool
    updated_at: datetime


class DeliveryRead(BaseModel):
    id: int
    kind: MessageKind
    destination_masked: str
    provider: SmsProvider
    template: str
    status: DeliveryStatus
    attempts: int
    provider_status: str | None
    error: str | None
    request_id: str | None
    biz_id: str | None
    fee: int | None
    created_at: datetime
    last_attempt_at: datetime | None
    sent_at: datetime | None


# What this domain holds about people (im2.types.PeopleData, walked by im2.privacy.inventory):
# a delivery is to a participant's phone. The number itself (encrypted) and the code are kept
# only until the delivery is final; the masked number and its keyed hash stay for the log and
# the caps, and go with the row on erasure.
PEOPLE_DATA: tuple[PeopleData, ...] = (
    PeopleData(
        table="message_deliveries",
        participant_columns=("participant_id",),
        identity_columns=("destination_hash",),
        personal_columns=("destination", "destination_masked", "params"),
        on_erase="delete",
    ),
)
