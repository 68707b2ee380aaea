"""Event kinds and the shape of an event as other domains see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    """Every kind of event. Later domains add theirs here, so the log has one vocabulary."""

    CAMPAIGN_CREATED = "campaign.created"
    CAMPAIGN_UPDATED = "campaign.updated"
    CAMPAIGN_DUPLICATED = "campaign.duplicated"
    CAMPAIGN_STATUS_CHANGED = "campaign.status_changed"
    USER_CREATED = "user.created"
    USER_LOGGED_IN = "user.logged_in"
    USER_LOGGED_OUT = "user.logged_out"
    USER_LOCKED_OUT = "user.locked_out"
    MEMBER_ADDED = "member.added"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    MEMBER_REMOVED = "member.removed"
    TOKEN_CREATED = "token.created"
    TOKEN_REVOKED = "token.revoked"


class ActorType(StrEnum):
    USER = "user"
    TOKEN = "token"
    PARTICIPANT = "participant"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: int
    occurred_at: datetime
    workspace_id: int
    campaign_id: int | None
    activity_id: int | None
    actor_type: str
    actor_id: str | None
    kind: str
    channel: str | None
    referrer: str | None
    properties: dict[str, Any] = field(default_factory=dict)
