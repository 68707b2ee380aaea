"""API tokens (shown once, stored as a hash, expiring, revocable) and the system actor.

Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.errors import InvalidInput, NotFound, Unauthorized
from im2.events.schemas import ActorType, EventKind
from im2.i18n import _
from im2.workspaces._common import (
    TOKEN_PREFIX,
    _digest,
    check_role_grant,
    owned_row,
    require,
)
from im2.workspaces.audit import (
    record_write,
)
from im2.workspaces.models import (
    ApiToken,
    Workspace,
)
from im2.workspaces.schemas import (
    Actor,
    Permission,
    Role,
    TokenCreated,
    TokenRead,
)


def do_create_token(
    session: Session,
    *,
    actor: Actor,
    name: str,
    role: Role,
    expires_at: datetime | None,
    now: datetime,
) -> TokenCreated:
    """A new token; the returned secret is shown once and never stored."""
    if actor.type is not ActorType.SYSTEM:
        require(actor, Permission.MANAGE_TOKENS)
        check_role_grant(actor, role)
    name = name.strip()
    if not name:
        raise InvalidInput(_("This field is required."), field="name")
    if len(name) > 80:
        raise InvalidInput(_("At most {n} characters.").format(n=80), field="name")
    if expires_at is not None and expires_at <= now:
        raise InvalidInput(_("The expiry must be in the future."), field="expires_at")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        workspace_id=actor.workspace_id,
        name=name,
        role=role,
        prefix=raw[:12],
        token_hash=_digest(raw),
        created_by_user_id=actor.id if actor.type is ActorType.USER else None,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    record_write(
        session,
        actor,
        "token.create",
        EventKind.TOKEN_CREATED,
        ("token", token.id),
        f"{name} ({role.value})",
        now=now,
        after={"name": name, "role": role.value, "prefix": token.prefix},
    )
    return TokenCreated(**TokenRead.model_validate(token).model_dump(), token=raw)


def do_revoke_token(session: Session, *, actor: Actor, token_id: int, now: datetime) -> TokenRead:
    require(actor, Permission.MANAGE_TOKENS)
    token = owned_row(session, ApiToken, token_id, actor=actor, missing=_("Token not found."))
    if token.revoked_at is None:
        token.revoked_at = now
        record_write(
            session,
            actor,
            "token.revoke",
            EventKind.TOKEN_REVOKED,
            ("token", token.id),
            token.name,
            now=now,
            before={"revoked": False},
            after={"revoked": True},
        )
    return TokenRead.model_validate(token)


def list_tokens(session: Session, *, actor: Actor) -> list[TokenRead]:
    require(actor, Permission.READ_TOKENS)
    rows = session.scalars(
        select(ApiToken)
        .where(ApiToken.workspace_id == actor.workspace_id)
        .order_by(ApiToken.id.desc())
    )
    return [TokenRead.model_validate(row) for row in rows]


def authenticate_token(session: Session, *, raw_token: str, now: datetime) -> tuple[Actor, bool]:
    """The token's actor, and whether its last-used time is stale enough to record again."""
    row = session.execute(
        select(ApiToken, Workspace)
        .join(Workspace, Workspace.id == ApiToken.workspace_id)
        .where(ApiToken.token_hash == _digest(raw_token))
    ).first()
    if row is None:
        raise Unauthorized(_("The API token is not valid."))
    token, workspace = row
    if token.revoked_at is not None:
        raise Unauthorized(_("The API token has been revoked."))
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthorized(_("The API token has expired."))
    actor = Actor(
        type=ActorType.TOKEN,
        id=token.id,
        label=f"token:{token.name}",
        workspace_id=workspace.id,
        workspace_slug=workspace.slug,
        role=Role(token.role),
    )
    return actor, _touch_due(token.last_used_at, now)


def _touch_due(last_used_at: datetime | None, now: datetime) -> bool:
    return last_used_at is None or now - last_used_at > timedelta(minutes=1)


def touch_token(session: Session, *, token_id: int, now: datetime) -> None:
    token = session.get(ApiToken, token_id)
    if token is not None and _touch_due(token.last_used_at, now):
        token.last_used_at = now


def system_actor(session: Session, *, workspace_slug: str) -> Actor:
    workspace = session.scalar(select(Workspace).where(Workspace.slug == workspace_slug))
    if workspace is None:
        raise NotFound(_("Workspace not found."))
    return Actor(
        type=ActorType.SYSTEM,
        id=None,
        label="system",
        workspace_id=workspace.id,
        workspace_slug=workspace.slug,
        role=Role.OWNER,
    )
