"""Roles, permissions, the acting identity, and request/response shapes of the domain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from im2.events.schemas import ActorType
from im2.i18n import N_
from im2.types import LabelledEnum, labels_of


class Role(LabelledEnum):
    OWNER = "owner", N_("Owner")
    EDITOR = "editor", N_("Editor")
    ANALYST = "analyst", N_("Analyst")
    VIEWER = "viewer", N_("Viewer")


ROLE_LABELS = labels_of(Role)


class Permission(StrEnum):
    READ_CAMPAIGNS = "campaigns:read"
    WRITE_CAMPAIGNS = "campaigns:write"
    READ_LISTENING = "listening:read"
    READ_INFLUENCE = "influence:read"
    EXPORT_DATA = "data:export"
    READ_MEMBERS = "members:read"
    MANAGE_MEMBERS = "members:write"
    READ_TOKENS = "tokens:read"
    MANAGE_TOKENS = "tokens:write"
    READ_AUDIT = "audit:read"
    # Who a person is: profiles, identities, timelines, unmasked phones and e-mails, exports of
    # people and the data-subject requests. Analysts see people only in aggregates.
    READ_PEOPLE = "people:read"
    WRITE_PEOPLE = "people:write"


# The role matrix, the one place it is defined (docs/security.md shows it as a table; a test
# walks every area's routes with every role). What each permission opens is in
# `im2.workspaces.areas` (listening, influence, exports) and in the services' `require` calls.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    # Runs campaigns: everything about them, the listening inbox and influence included.
    Role.EDITOR: frozenset(
        {
            Permission.READ_CAMPAIGNS,
            Permission.WRITE_CAMPAIGNS,
            Permission.READ_LISTENING,
            Permission.READ_INFLUENCE,
            Permission.EXPORT_DATA,
            Permission.READ_PEOPLE,
            Permission.WRITE_PEOPLE,
        }
    ),
    # Reads everything and changes nothing; people only in aggregates (no profiles, no
    # unmasked personal fields, no exports of people).
    Role.ANALYST: frozenset(
        {
            Permission.READ_CAMPAIGNS,
            Permission.READ_LISTENING,
            Permission.READ_INFLUENCE,
            Permission.EXPORT_DATA,
            Permission.READ_MEMBERS,
            Permission.READ_TOKENS,
            Permission.READ_AUDIT,
        }
    ),
    # Campaigns, their activities and results, on screen: no listening, no influence, no
    # downloads of participants' rows.
    Role.VIEWER: frozenset({Permission.READ_CAMPAIGNS}),
}

ROLE_RANK = {Role.VIEWER: 0, Role.ANALYST: 1, Role.EDITOR: 2, Role.OWNER: 3}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting, in which workspace, with which role: a console user or an API token."""

    type: ActorType
    id: int | None
    label: str
    workspace_id: int
    workspace_slug: str
    role: Role

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


@dataclass(frozen=True, slots=True)
class SessionUser:
    user_id: int
    email: str
    display_name: str
    workspaces: tuple[tuple[str, str, Role], ...]  # (slug, name, role)


class WorkspaceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    slug: str
    name: str
    timezone: str


class MemberRead(BaseModel):
    user_id: int
    email: str
    display_name: str
    role: Role
    joined_at: datetime
    last_login_at: datetime | None
    locked: bool


class MemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    display_name: str = Field(min_length=1, max_length=80)
    role: Role
    password: str | None = Field(
        default=None,
        min_length=10,
        max_length=256,
        description="Initial password; required when the e-mail has no account yet.",
    )


class MemberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    role: Role
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="The secret. Shown this once; only its hash is stored.")


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    actor_type: str
    actor_id: int | None
    actor_label: str
    action: str
    target_type: str
    target_id: int | None
    summary: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
