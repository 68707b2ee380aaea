"""Signing in to the console and its sessions.

Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.errors import Forbidden, NotFound
from im2.events.schemas import ActorType, EventKind
from im2.i18n import _
from im2.workspaces import _common
from im2.workspaces._common import (
    _digest,
)
from im2.workspaces.audit import (
    record_event_for_user,
)
from im2.workspaces.models import (
    ConsoleSession,
    Membership,
    User,
    Workspace,
)
from im2.workspaces.schemas import (
    Actor,
    Role,
    SessionUser,
)


@dataclass(frozen=True, slots=True)
class LoginResult:
    user_id: int | None
    error: str | None


_dummy_hashes: dict[int, str] = {}


def _dummy_hash() -> str:
    """A hash of nothing, made with the current hasher's parameters, so verifying a password
    against it costs what verifying against a real account's hash costs."""
    key = id(_common._hasher)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = _common._hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hashes[key]


def do_login(session: Session, *, email: str, password: str, now: datetime) -> LoginResult:
    """Check a password. Unknown, inactive and known accounts take the same path (one argon2
    verification) and get the same answer, so neither the message nor the time tells which
    e-mails have accounts. Throttling failed attempts is the caller's (by client address)."""
    generic = _("E-mail or password is wrong.")
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    stored = user.password_hash if user is not None and user.is_active else _dummy_hash()
    try:
        _common._hasher.verify(stored, password)
        matched = user is not None and user.is_active
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        matched = False
    if not matched or user is None:
        return LoginResult(None, generic)
    if _common._hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _common._hasher.hash(password)
    user.last_login_at = now
    record_event_for_user(session, user_id=user.id, kind=EventKind.USER_LOGGED_IN, now=now)
    return LoginResult(user.id, None)


def do_start_session(
    session: Session, *, user_id: int, now: datetime, lifetime: timedelta, user_agent: str | None
) -> str:
    """Returns the raw session token for the cookie; only its hash is stored."""
    raw = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            token_hash=_digest(raw),
            user_id=user_id,
            created_at=now,
            expires_at=now + lifetime,
            user_agent=(user_agent or "")[:255] or None,
        )
    )
    return raw


def do_end_session(session: Session, *, raw_token: str, now: datetime) -> None:
    row = session.scalar(
        select(ConsoleSession).where(ConsoleSession.token_hash == _digest(raw_token))
    )
    if row is not None:
        record_event_for_user(session, user_id=row.user_id, kind=EventKind.USER_LOGGED_OUT, now=now)
        session.delete(row)


def get_session_user(session: Session, *, raw_token: str, now: datetime) -> SessionUser | None:
    row = session.execute(
        select(ConsoleSession, User)
        .join(User, User.id == ConsoleSession.user_id)
        .where(ConsoleSession.token_hash == _digest(raw_token))
    ).first()
    if row is None:
        return None
    console_session, user = row
    if console_session.expires_at <= now or not user.is_active:
        return None
    memberships = session.execute(
        select(Workspace.slug, Workspace.name, Membership.role)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == user.id)
        .order_by(Workspace.name)
    ).all()
    return SessionUser(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        workspaces=tuple((slug, name, Role(role)) for slug, name, role in memberships),
    )


def actor_for_user(session: Session, *, user: SessionUser, workspace_slug: str) -> Actor:
    workspace = session.scalar(select(Workspace).where(Workspace.slug == workspace_slug))
    if workspace is None:
        raise NotFound(_("Workspace not found."))
    for slug, _name, role in user.workspaces:
        if slug == workspace_slug:
            return Actor(
                type=ActorType.USER,
                id=user.user_id,
                label=user.email,
                workspace_id=workspace.id,
                workspace_slug=workspace.slug,
                role=role,
            )
    raise Forbidden(_("You are not a member of this workspace."))
