"""The audit log (who changed what, before and after) and the events of console writes.

Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.workspaces._common import (
    require,
)
from im2.workspaces.models import (
    AuditEntry,
    Membership,
)
from im2.workspaces.schemas import (
    Actor,
    AuditRead,
    Permission,
)


def _workspace(actor: Actor | None, workspace_id: int | None) -> int:
    if workspace_id is not None:
        return workspace_id
    if actor is None:
        raise ValueError("a system audit entry names its workspace")
    return actor.workspace_id


def record_audit(
    session: Session,
    actor: Actor | None,
    action: str,
    target: tuple[str, int | None],
    summary: str,
    *,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    workspace_id: int | None = None,
) -> None:
    """One audit entry: `action` done by `actor` (None: the system) on `target`, a (type, id)
    pair. The entry is in the actor's workspace unless `workspace_id` says otherwise (a system
    entry has to say it); `before` and `after` are what changed, as the reader should see it."""
    target_type, target_id = target
    session.add(
        AuditEntry(
            workspace_id=_workspace(actor, workspace_id),
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


def record_write(
    session: Session,
    actor: Actor | None,
    action: str,
    kind: EventKind,
    target: tuple[str, int | None],
    summary: str,
    *,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    workspace_id: int | None = None,
) -> None:
    """A console write's audit entry (see `record_audit`) and its event of `kind`."""
    record_audit(
        session,
        actor,
        action,
        target,
        summary,
        now=now,
        before=before,
        after=after,
        workspace_id=workspace_id,
    )
    target_type, target_id = target
    record_event(
        session,
        kind=kind,
        occurred_at=now,
        workspace_id=_workspace(actor, workspace_id),
        actor_type=actor.type if actor else ActorType.SYSTEM,
        actor_id=actor.id if actor else None,
        properties={"target_type": target_type, "target_id": target_id},
    )


def record_event_only(
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


def record_event_for_user(
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
