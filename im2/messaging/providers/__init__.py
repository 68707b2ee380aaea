"""SMS providers: each builds the signed request its documentation describes, sends it, and
reads the answer into a `SendResult`. Nothing here touches the database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    SENT = "sent"  # the provider accepted the message
    RETRY = "retry"  # worth trying again later (timeout, 5xx, the provider's own throttle)
    FAILED = "failed"  # trying again will not help (wrong key, wrong template, bad number)


@dataclass(frozen=True, slots=True)
class Account:
    """What a provider needs to send for one workspace (the secret in the clear: keep it out
    of logs, pages and exceptions)."""

    access_key_id: str
    secret: str
    sign_name: str
    app_id: str | None = None
    region: str | None = None

    def __repr__(self) -> str:  # never the secret, even in a traceback's locals
        return f"Account(access_key_id={self.access_key_id!r}, secret=***)"


@dataclass(frozen=True, slots=True)
class Message:
    phone: str  # as the participant typed it, normalised: 13800138000 or +8613800138000
    template: str
    params: dict[str, str]
    reference: str  # our delivery id, echoed back by the provider (OutId / SessionContext)


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    provider_status: str | None = None
    error: str | None = None
    request_id: str | None = None
    biz_id: str | None = None
    fee: int | None = None


def json_of(text: str) -> dict[str, object] | None:
    try:
        found = json.loads(text)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def national(phone: str) -> str:
    """A mainland number without its +86, other countries' with their code and no plus."""
    if phone.startswith("+86"):
        return phone[3:]
    return phone.removeprefix("+")


def e164(phone: str) -> str:
    """+86 in front of a mainland number; others keep the country code they were given."""
    return phone if phone.startswith("+") else "+86" + phone
