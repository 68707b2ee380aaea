"""Console users and their roles in a workspace.

Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from im2.errors import Conflict, InvalidInput, NotFound
from im2.events.schemas import EventKind
from im2.i18n import _
from im2.workspaces import _common
from im2.workspaces._common import (
    check_email,
    check_password,
    check_role_grant,
    require,
)
from im2.workspaces.audit import (
    record_event_only,
    record_write,
)
from im2.workspaces.models import (
    Membership,
    User,
)
from im2.workspaces.schemas import (
    Actor,
    MemberRead,
    Permission,
    Role,
)


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
        password_hash=_common._hasher.hash(password),
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
    record_write(
        session,
        actor,
        "member.add",
        EventKind.MEMBER_ADDED,
        ("user", user_id),
        f"{user.email} → {role.value}",
        now=now,
        after={"email": user.email, "role": role.value},
        workspace_id=workspace_id,
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
    check_role_grant(actor, role)
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
        record_event_only(
            session, actor=actor, kind=EventKind.USER_CREATED, target_id=user_id, now=now
        )
    do_add_member(
        session, actor=actor, workspace_id=actor.workspace_id, user_id=user_id, role=role, now=now
    )
    session.flush()
    return get_member(session, actor=actor, user_id=user_id)


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
    check_role_grant(actor, role)
    membership = _membership(session, workspace_id=actor.workspace_id, user_id=user_id)
    before = membership.role
    if before == role:
        return get_member(session, actor=actor, user_id=user_id)
    if before == Role.OWNER and _owner_count(session, workspace_id=actor.workspace_id) <= 1:
        raise Conflict(_("A workspace needs at least one owner."), field="role")
    membership.role = role
    record_write(
        session,
        actor,
        "member.role",
        EventKind.MEMBER_ROLE_CHANGED,
        ("user", user_id),
        f"{before} → {role.value}",
        now=now,
        before={"role": before},
        after={"role": role.value},
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
    record_write(
        session,
        actor,
        "member.remove",
        EventKind.MEMBER_REMOVED,
        ("user", user_id),
        "",
        now=now,
        before=before,
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
