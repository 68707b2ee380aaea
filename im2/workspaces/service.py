"""Operations on workspaces, people, sessions, tokens and the audit log.

By concern: checks and the password hasher in `_common`, members in `members`, sign-in and
console sessions in `logins`, API tokens in `tokens`, the audit log in `audit`; this module is
the facade every other domain imports (`require`, `record_audit`, `system_actor`, ...).

Callers own the transaction (see `im2.db.Database.transaction`); nothing here commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.errors import Conflict, InvalidInput, NotFound
from im2.i18n import _
from im2.workspaces._common import (
    MIN_PASSWORD_LENGTH,
    SLUG_RE,
    TOKEN_PREFIX,
    check_email,
    check_password,
    check_slug,
    check_timezone,
    owned_row,
    require,
)
from im2.workspaces.audit import list_audit, record_audit
from im2.workspaces.logins import (
    LoginResult,
    actor_for_user,
    do_end_session,
    do_login,
    do_start_session,
    get_session_user,
)
from im2.workspaces.members import (
    do_add_member,
    do_change_role,
    do_create_user,
    do_invite_member,
    do_remove_member,
    get_member,
    get_user_id,
    list_members,
)
from im2.workspaces.models import (
    Workspace,
)
from im2.workspaces.schemas import (
    WorkspaceRead,
)
from im2.workspaces.tokens import (
    authenticate_token,
    do_create_token,
    do_revoke_token,
    list_tokens,
    system_actor,
    touch_token,
)

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "SLUG_RE",
    "TOKEN_PREFIX",
    "LoginResult",
    "actor_for_user",
    "authenticate_token",
    "check_email",
    "check_password",
    "check_slug",
    "check_timezone",
    "do_add_member",
    "do_change_role",
    "do_create_token",
    "do_create_user",
    "do_create_workspace",
    "do_end_session",
    "do_invite_member",
    "do_login",
    "do_remove_member",
    "do_revoke_token",
    "do_start_session",
    "get_member",
    "get_session_user",
    "get_user_id",
    "get_workspace",
    "get_workspace_by_id",
    "list_audit",
    "list_members",
    "list_tokens",
    "owned_row",
    "record_audit",
    "require",
    "system_actor",
    "touch_token",
]


# --- workspaces -------------------------------------------------------------------------


def do_create_workspace(
    session: Session, *, slug: str, name: str, timezone: str, now: datetime
) -> WorkspaceRead:
    check_slug(slug)
    check_timezone(timezone)
    if not name.strip():
        raise InvalidInput(_("This field is required."), field="name")
    if session.scalar(select(Workspace.id).where(Workspace.slug == slug)) is not None:
        raise Conflict(_("A workspace with this slug already exists."), field="slug")
    workspace = Workspace(slug=slug, name=name.strip(), timezone=timezone, created_at=now)
    session.add(workspace)
    session.flush()
    return WorkspaceRead.model_validate(workspace)


def get_workspace(session: Session, *, slug: str) -> WorkspaceRead | None:
    workspace = session.scalar(select(Workspace).where(Workspace.slug == slug))
    return None if workspace is None else WorkspaceRead.model_validate(workspace)


def get_workspace_by_id(session: Session, *, workspace_id: int) -> WorkspaceRead:
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound(_("Workspace not found."))
    return WorkspaceRead.model_validate(workspace)
