"""Operations on workspaces, people, sessions, tokens and the audit log.

Callers own the transaction (see `im2.db.Database.transaction`); nothing here commits.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from im2.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.workspaces.models import (
    ApiToken,
    AuditEntry,
    ConsoleSession,
    Membership,
    User,
    Workspace,
)
from im2.workspaces.schemas import (
    ROLE_RANK,
    Actor,
    AuditRead,
    MemberRead,
    Permission,
    Role,
    SessionUser,
    TokenCreated,
    TokenRead,
    WorkspaceRead,
)

_hasher = PasswordHasher()
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
TOKEN_PREFIX = "im2_"
MIN_PASSWORD_LENGTH = 10


def _digest(raw: str) -> str:
    # Tokens are 256-bit random values, so a fast hash is enough (no dictionary to guess from).
    return hashlib.sha256(raw.encode()).hexdigest()


def require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        raise Forbidden(
            _("Your role ({role}) does not allow this action.").format(role=actor.role.value)
        )


def check_slug(slug: str, *, field: str = "slug") -> str:
    if not SLUG_RE.match(slug):
        raise InvalidInput(
            _(
                "Use 1–64 lower-case letters, digits and hyphens, "
                "starting and ending with a letter or digit."
            ),
            field=field,
        )
    return slug


def check_timezone(name: str, *, field: str = "timezone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            _("Unknown time zone “{name}”; use an IANA name such as Asia/Shanghai.").format(
                name=name
            ),
            field=field,
        ) from None


def check_email(email: str, *, field: str = "email") -> str:
    try:
        return validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise InvalidInput(_("Enter a valid e-mail address."), field=field) from None


def check_password(password: str, *, field: str = "password") -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            _("The password needs at least {n} characters.").format(n=MIN_PASSWORD_LENGTH),
            field=field,
        )
    return password


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


# --- users and members ------------------------------------------------------------------


def do_create_user(
    session: Session, *, email: str, display_name: str, password: str, now: datetime
) -> int:
    email = check_email(email)
    check_password(password)
    if not display_name.strip():
        raise InvalidInput(_("This field is required."), field="display_name")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(_("An account with this e-mail already exists."), field="email")
    user = User(
        email=email,
        display_name=display_name.strip(),
        password_hash=_hasher.hash(password),
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user.id


def get_user_id(session: Session, *, email: str) -> int | None:
    return session.scalar(select(User.id).where(User.email == email.strip().lower()))


def do_add_member(
    session: Session,
    *,
    actor: Actor | None,
    workspace_id: int,
    user_id: int,
    role: Role,
    now: datetime,
) -> None:
    """Give a user a role in a workspace. `actor` None means the system (CLI, demo)."""
    if actor is not None:
        require(actor, Permission.MANAGE_MEMBERS)
    existing = session.scalar(
        select(Membership).where(
            Membership.workspace_id == workspace_id, Membership.user_id == user_id
        )
    )
    if existing is not None:
        raise Conflict(_("This person is already a member of the workspace."), field="email")
    session.add(Membership(workspace_id=workspace_id, user_id=user_id, role=role, created_at=now))
    user = session.get(User, user_id)
    assert user is not None
    _record_write(
        session,
        actor=actor,
        workspace_id=workspace_id,
        action="member.add",
        kind=EventKind.MEMBER_ADDED,
        target_type="user",
        target_id=user_id,
        summary=f"{user.email} → {role.value}",
        before=None,
        after={"email": user.email, "role": role.value},
        now=now,
    )


def do_invite_member(
    session: Session,
    *,
    actor: Actor,
    email: str,
    display_name: str,
    role: Role,
    password: str | None,
    now: datetime,
) -> MemberRead:
    """Add a person by e-mail, creating their account (with `password`) if they have none."""
    require(actor, Permission.MANAGE_MEMBERS)
    _check_role_grant(actor, role)
    email = check_email(email)
    user_id = get_user_id(session, email=email)
    if user_id is None:
        if not password:
            raise InvalidInput(
                _("This e-mail has no account yet: give an initial password."), field="password"
            )
        user_id = do_create_user(
            session, email=email, display_name=display_name, password=password, now=now
        )
        _record_event_only(
            session, actor=actor, kind=EventKind.USER_CREATED, target_id=user_id, now=now
        )
    do_add_member(
        session, actor=actor, workspace_id=actor.workspace_id, user_id=user_id, role=role, now=now
    )
    session.flush()
    return get_member(session, actor=actor, user_id=user_id)


def _check_role_grant(actor: Actor, role: Role) -> None:
    if ROLE_RANK[role] > ROLE_RANK[actor.role]:
        raise Forbidden(_("You cannot grant a role above your own."), field="role")


def _membership(session: Session, *, workspace_id: int, user_id: int) -> Membership:
    membership = session.scalar(
        select(Membership).where(
            Membership.workspace_id == workspace_id, Membership.user_id == user_id
        )
    )
    if membership is None:
        raise NotFound(_("No such member in this workspace."))
    return membership


def _owner_count(session: Session, *, workspace_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.workspace_id == workspace_id, Membership.role == Role.OWNER)
        )
        or 0
    )


def do_change_role(
    session: Session, *, actor: Actor, user_id: int, role: Role, now: datetime
) -> MemberRead:
    require(actor, Permission.MANAGE_MEMBERS)
    _check_role_grant(actor, role)
    membership = _membership(session, workspace_id=actor.workspace_id, user_id=user_id)
    before = membership.role
    if before == role:
        return get_member(session, actor=actor, user_id=user_id)
    if before == Role.OWNER and _owner_count(session, workspace_id=actor.workspace_id) <= 1:
        raise Conflict(_("A workspace needs at least one owner."), field="role")
    membership.role = role
    _record_write(
        session,
        actor=actor,
        workspace_id=actor.workspace_id,
        action="member.role",
        kind=EventKind.MEMBER_ROLE_CHANGED,
        target_type="user",
        target_id=user_id,
        summary=f"{before} → {role.value}",
        before={"role": before},
        after={"role": role.value},
        now=now,
    )
    session.flush()
    return get_member(session, actor=actor, user_id=user_id)


def do_remove_member(session: Session, *, actor: Actor, user_id: int, now: datetime) -> None:
    require(actor, Permission.MANAGE_MEMBERS)
    membership = _membership(session, workspace_id=actor.workspace_id, user_id=user_id)
    if (
        membership.role == Role.OWNER
        and _owner_count(session, workspace_id=actor.workspace_id) <= 1
    ):
        raise Conflict(_("A workspace needs at least one owner."))
    before = {"role": membership.role}
    session.delete(membership)
    _record_write(
        session,
        actor=actor,
        workspace_id=actor.workspace_id,
        action="member.remove",
        kind=EventKind.MEMBER_REMOVED,
        target_type="user",
        target_id=user_id,
        summary="",
        before=before,
        after=None,
        now=now,
    )


def _member_read(membership: Membership, user: User, now: datetime | None) -> MemberRead:
    locked = bool(user.locked_until and now and user.locked_until > now)
    return MemberRead(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=Role(membership.role),
        joined_at=membership.created_at,
        last_login_at=user.last_login_at,
        locked=locked,
    )


def get_member(session: Session, *, actor: Actor, user_id: int) -> MemberRead:
    require(actor, Permission.READ_MEMBERS)
    membership = _membership(session, workspace_id=actor.workspace_id, user_id=user_id)
    user = session.get(User, user_id)
    assert user is not None
    return _member_read(membership, user, None)


def list_members(session: Session, *, actor: Actor, now: datetime) -> list[MemberRead]:
    require(actor, Permission.READ_MEMBERS)
    rows = session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.workspace_id == actor.workspace_id)
        .order_by(Membership.created_at, User.id)
    ).all()
    return [_member_read(m, u, now) for m, u in rows]


# --- login and console sessions -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoginResult:
    user_id: int | None
    error: str | None


_dummy_hashes: dict[int, str] = {}


def _dummy_hash() -> str:
    """A hash of nothing, made with the current hasher's parameters, so verifying a password
    against it costs what verifying against a real account's hash costs."""
    key = id(_hasher)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = _hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hashes[key]


def do_login(session: Session, *, email: str, password: str, now: datetime) -> LoginResult:
    """Check a password. Unknown, inactive and known accounts take the same path (one argon2
    verification) and get the same answer, so neither the message nor the time tells which
    e-mails have accounts. Throttling failed attempts is the caller's (by client address)."""
    generic = _("E-mail or password is wrong.")
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    stored = user.password_hash if user is not None and user.is_active else _dummy_hash()
    try:
        _hasher.verify(stored, password)
        matched = user is not None and user.is_active
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        matched = False
    if not matched or user is None:
        return LoginResult(None, generic)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = now
    _record_event_for_user(session, user_id=user.id, kind=EventKind.USER_LOGGED_IN, now=now)
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
        _record_event_for_user(
            session, user_id=row.user_id, kind=EventKind.USER_LOGGED_OUT, now=now
        )
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


# --- API tokens -----------------------------------------------------------------------------


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
        _check_role_grant(actor, role)
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
    _record_write(
        session,
        actor=actor,
        workspace_id=actor.workspace_id,
        action="token.create",
        kind=EventKind.TOKEN_CREATED,
        target_type="token",
        target_id=token.id,
        summary=f"{name} ({role.value})",
        before=None,
        after={"name": name, "role": role.value, "prefix": token.prefix},
        now=now,
    )
    return TokenCreated(**TokenRead.model_validate(token).model_dump(), token=raw)


def do_revoke_token(session: Session, *, actor: Actor, token_id: int, now: datetime) -> TokenRead:
    require(actor, Permission.MANAGE_TOKENS)
    token = session.get(ApiToken, token_id)
    if token is None or token.workspace_id != actor.workspace_id:
        raise NotFound(_("Token not found."))
    if token.revoked_at is None:
        token.revoked_at = now
        _record_write(
            session,
            actor=actor,
            workspace_id=actor.workspace_id,
            action="token.revoke",
            kind=EventKind.TOKEN_REVOKED,
            target_type="token",
            target_id=token.id,
            summary=token.name,
            before={"revoked": False},
            after={"revoked": True},
            now=now,
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


# --- audit log -------------------------------------------------------------------------------


def record_audit(
    session: Session,
    *,
    actor: Actor | None,
    workspace_id: int,
    action: str,
    target_type: str,
    target_id: int | None,
    summary: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
) -> None:
    session.add(
        AuditEntry(
            workspace_id=workspace_id,
            occurred_at=now,
            actor_type=(actor.type if actor else ActorType.SYSTEM).value,
            actor_id=actor.id if actor else None,
            actor_label=actor.label if actor else "system",
            action=action,
            target_type=target_type,
            target_id=target_id,
            summary=summary,
            before=before,
            after=after,
        )
    )


def list_audit(
    session: Session,
    *,
    actor: Actor,
    before_id: int | None = None,
    limit: int = 50,
    action_prefix: str | None = None,
    target: tuple[str, int] | None = None,
) -> list[AuditRead]:
    require(actor, Permission.READ_AUDIT)
    query = select(AuditEntry).where(AuditEntry.workspace_id == actor.workspace_id)
    if target is not None:
        query = query.where(AuditEntry.target_type == target[0], AuditEntry.target_id == target[1])
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if action_prefix:
        query = query.where(AuditEntry.action.startswith(action_prefix))
    rows = session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit))
    return [AuditRead.model_validate(row) for row in rows]


def _record_write(
    session: Session,
    *,
    actor: Actor | None,
    workspace_id: int,
    action: str,
    kind: EventKind,
    target_type: str,
    target_id: int | None,
    summary: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
) -> None:
    record_audit(
        session,
        actor=actor,
        workspace_id=workspace_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        summary=summary,
        before=before,
        after=after,
        now=now,
    )
    record_event(
        session,
        kind=kind,
        occurred_at=now,
        workspace_id=workspace_id,
        actor_type=actor.type if actor else ActorType.SYSTEM,
        actor_id=actor.id if actor else None,
        properties={"target_type": target_type, "target_id": target_id},
    )


def _record_event_only(
    session: Session, *, actor: Actor, kind: EventKind, target_id: int, now: datetime
) -> None:
    record_event(
        session,
        kind=kind,
        occurred_at=now,
        workspace_id=actor.workspace_id,
        actor_type=actor.type,
        actor_id=actor.id,
        properties={"target_type": "user", "target_id": target_id},
    )


def _record_event_for_user(
    session: Session, *, user_id: int, kind: EventKind, now: datetime
) -> None:
    """Login events belong to every workspace the user is a member of."""
    for workspace_id in session.scalars(
        select(Membership.workspace_id).where(Membership.user_id == user_id)
    ):
        record_event(
            session,
            kind=kind,
            occurred_at=now,
            workspace_id=workspace_id,
            actor_type=ActorType.USER,
            actor_id=user_id,
        )
