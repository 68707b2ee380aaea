"""Shapes of data-subject requests: kinds, channels, statuses, the request and its log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from im2.i18n import N_
from im2.types import PeopleData

DEFAULT_DUE_DAYS = 15  # PIPL practice; GDPR Art. 12(3) allows one month
MAX_DUE_DAYS = 30
DEFAULT_EXPORT_DAYS = 7
MAX_EXPORT_DAYS = 30


class RequestKind(StrEnum):
    ACCESS = "access"  # access and copy: the export zip (PIPL Art. 45, GDPR Arts. 15, 20)
    CORRECTION = "correction"  # PIPL Art. 46, GDPR Art. 16
    DELETION = "deletion"  # PIPL Art. 47, GDPR Art. 17
    WITHDRAWAL = "withdrawal"  # of consent, per purpose (PIPL Art. 15, GDPR Art. 7(3))
    RESTRICTION = "restriction"  # keep, do not process (PIPL Art. 44, GDPR Art. 18)


class RequestChannel(StrEnum):
    SELF_SERVICE = "self_service"  # the participant's 我的数据 page, after a one-time code
    CONSOLE = "console"
    API = "api"


class RequestStatus(StrEnum):
    RECEIVED = "received"
    VERIFIED = "verified"  # the requester proved they are the person
    IN_PROGRESS = "in_progress"
    DONE = "done"
    REFUSED = "refused"  # with the reason told to the person (PIPL Art. 50)


OPEN_STATUSES = frozenset(
    {RequestStatus.RECEIVED, RequestStatus.VERIFIED, RequestStatus.IN_PROGRESS}
)


class RequestAction(StrEnum):
    RECEIVED = "received"
    VERIFIED = "verified"
    EXPORT_STARTED = "export_started"
    EXPORT_READY = "export_ready"
    EXPORT_DOWNLOADED = "export_downloaded"
    EXPORT_EXPIRED = "export_expired"
    CORRECTED = "corrected"
    ERASED = "erased"
    RESTRICTED = "restricted"
    UNRESTRICTED = "unrestricted"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"


KIND_LABELS = {
    RequestKind.ACCESS: N_("Access and copy"),
    RequestKind.CORRECTION: N_("Correction"),
    RequestKind.DELETION: N_("Deletion"),
    RequestKind.WITHDRAWAL: N_("Withdrawal of consent"),
    RequestKind.RESTRICTION: N_("Restriction of processing"),
}
CHANNEL_LABELS = {
    RequestChannel.SELF_SERVICE: N_("The person, on 我的数据"),
    RequestChannel.CONSOLE: N_("Console"),
    RequestChannel.API: N_("API"),
}
STATUS_LABELS = {
    RequestStatus.RECEIVED: N_("Received"),
    RequestStatus.VERIFIED: N_("Identity verified"),
    RequestStatus.IN_PROGRESS: N_("Being handled"),
    RequestStatus.DONE: N_("Done"),
    RequestStatus.REFUSED: N_("Refused"),
}
ACTION_LABELS = {
    RequestAction.RECEIVED: N_("Request received"),
    RequestAction.VERIFIED: N_("Identity verified"),
    RequestAction.EXPORT_STARTED: N_("Export started"),
    RequestAction.EXPORT_READY: N_("Export file ready"),
    RequestAction.EXPORT_DOWNLOADED: N_("Export file downloaded"),
    RequestAction.EXPORT_EXPIRED: N_("Export file expired and deleted"),
    RequestAction.CORRECTED: N_("Data corrected"),
    RequestAction.ERASED: N_("Data deleted"),
    RequestAction.RESTRICTED: N_("Processing restricted"),
    RequestAction.UNRESTRICTED: N_("Restriction lifted"),
    RequestAction.WITHDRAWN: N_("Consent withdrawn"),
    RequestAction.REFUSED: N_("Request refused"),
}

# The fields a correction may change, with the participant's own rules for each.
CORRECTABLE_FIELDS = ("nickname",)

# The privacy domain's own rows about a person (walked with every domain's PEOPLE_DATA): a
# request stays as the brand's record of its answer (PIPL Art. 50); what the person asked for
# (`details`, e.g. a corrected nickname) is cleared and their export file deleted on erasure.
PEOPLE_DATA: tuple[PeopleData, ...] = (
    PeopleData(
        table="privacy_requests",
        person_columns=("person_id",),
        personal_columns=("details", "export_path"),
        media="{export_path}",
    ),
)


class RequestCreate(BaseModel):
    """A request the brand records (it came by e-mail, phone, letter) or a client of the API."""

    model_config = ConfigDict(extra="forbid")

    person_id: int = Field(ge=1, le=2**31 - 1)
    kind: RequestKind
    verified: bool = Field(
        default=False,
        description="True when the brand has already checked that the requester is the person.",
    )
    purposes: list[str] = Field(
        default_factory=list, max_length=10, description="For a withdrawal: the purposes."
    )
    fields: dict[str, str] = Field(
        default_factory=dict, description="For a correction: field name to the corrected value."
    )
    note: str = Field(default="", max_length=1000)


class RefusalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class CorrectionApply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: dict[str, str] = Field(min_length=1)


class PrivacySettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_due_days: int = Field(ge=1, le=MAX_DUE_DAYS)
    export_days: int = Field(ge=1, le=MAX_EXPORT_DAYS)


class PrivacySettingsRead(BaseModel):
    request_due_days: int
    export_days: int


class LogEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    actor: str
    action: RequestAction
    status: RequestStatus
    note: str


class RequestRead(BaseModel):
    id: int
    person_id: int | None
    kind: RequestKind
    channel: RequestChannel
    status: RequestStatus
    received_at: datetime
    due_at: datetime
    overdue: bool
    verified_at: datetime | None
    closed_at: datetime | None
    refusal_reason: str | None
    details: dict[str, Any] | None
    export_ready: bool
    export_bytes: int | None
    export_expires_at: datetime | None


class RequestDetail(RequestRead):
    log: list[LogEntryRead]


class RequestPage(BaseModel):
    items: list[RequestRead]
    next_cursor: str | None
