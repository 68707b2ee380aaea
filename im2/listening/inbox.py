"""The response inbox: assignment, status, notes and replies, reply templates, the escalation
ladder (each step has a time limit; a job moves overdue items up) and response-time metrics.

Mentions enter the inbox when they are stored (`ingest.inbox_reasons`). Callers own the
transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from statistics import median

from sqlalchemy import ColumnElement, and_, delete, func, select
from sqlalchemy.orm import Session

from im2.errors import Conflict, InvalidInput, NotFound
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.listening.models import (
    InboxItem,
    InboxNote,
    Mention,
    ReplyTemplate,
    Topic,
    TopicMatch,
)
from im2.listening.schemas import (
    OPEN_STATUSES,
    InboxItemRead,
    InboxNoteCreate,
    InboxNoteRead,
    InboxPage,
    InboxReason,
    InboxStatus,
    InboxUpdate,
    ListeningSettingsRead,
    MentionRead,
    Priority,
    ReplyTemplateCreate,
    ReplyTemplateRead,
    ResponseTimes,
)
from im2.listening.workspace_settings import load_settings
from im2.pagination import decode_cursor, encode_cursor
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import list_members, record_audit, require, system_actor

PRIORITY_ORDER = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}


def _read(
    item: InboxItem,
    mention: Mention,
    settings: ListeningSettingsRead,
    notes: list[InboxNote] | None = None,
) -> InboxItemRead:
    ladder = settings.escalation_ladder
    step = ladder[min(item.escalation_step, len(ladder) - 1)].name if ladder else None
    return InboxItemRead(
        id=item.id,
        mention=MentionRead.model_validate(mention),
        reasons=[InboxReason(r) for r in item.reasons],
        priority=Priority(item.priority),
        status=InboxStatus(item.status),
        assignee_id=item.assignee_id,
        assignee_label=item.assignee_label,
        escalation_step=item.escalation_step,
        escalation_step_name=step,
        step_due_at=item.step_due_at,
        created_at=item.created_at,
        first_response_at=item.first_response_at,
        resolved_at=item.resolved_at,
        notes=[InboxNoteRead.model_validate(n) for n in notes or []],
    )


def _item(session: Session, *, actor: Actor, item_id: int) -> tuple[InboxItem, Mention]:
    row = session.execute(
        select(InboxItem, Mention)
        .join(Mention, Mention.id == InboxItem.mention_id)
        .where(InboxItem.id == item_id, InboxItem.workspace_id == actor.workspace_id)
    ).first()
    if row is None:
        raise NotFound(_("Inbox item not found."))
    return row[0], row[1]


def list_inbox(
    session: Session,
    *,
    actor: Actor,
    status: InboxStatus | None = None,
    assignee_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
    priority: Priority | None = None,
) -> InboxPage:
    """Open items first by default (new, in progress, escalated), newest first."""
    require(actor, Permission.READ_CAMPAIGNS)
    query = (
        select(InboxItem, Mention)
        .join(Mention, Mention.id == InboxItem.mention_id)
        .where(InboxItem.workspace_id == actor.workspace_id)
    )
    if status is not None:
        query = query.where(InboxItem.status == status.value)
    else:
        query = query.where(InboxItem.status.in_([s.value for s in OPEN_STATUSES]))
    if assignee_id is not None:
        query = query.where(InboxItem.assignee_id == assignee_id)
    if priority is not None:
        query = query.where(InboxItem.priority == priority.value)
    last_id = decode_cursor(cursor)
    if last_id is not None:
        query = query.where(InboxItem.id < last_id)
    rows = session.execute(query.order_by(InboxItem.id.desc()).limit(limit + 1)).all()
    settings = load_settings(session, workspace_id=actor.workspace_id)
    items = [_read(i, m, settings) for i, m in rows[:limit]]
    return InboxPage(
        items=items,
        next_cursor=encode_cursor(items[-1].id) if len(rows) > limit and items else None,
    )


def inbox_counts(session: Session, *, actor: Actor) -> dict[InboxStatus, int]:
    """How many items the workspace has in each status (every status present, zeros included)."""
    require(actor, Permission.READ_CAMPAIGNS)
    counts = dict.fromkeys(InboxStatus, 0)
    for status, n in session.execute(
        select(InboxItem.status, func.count())
        .where(InboxItem.workspace_id == actor.workspace_id)
        .group_by(InboxItem.status)
    ):
        counts[InboxStatus(status)] = int(n)
    return counts


def get_inbox_item(session: Session, *, actor: Actor, item_id: int) -> InboxItemRead:
    require(actor, Permission.READ_CAMPAIGNS)
    item, mention = _item(session, actor=actor, item_id=item_id)
    notes = list(
        session.scalars(
            select(InboxNote).where(InboxNote.item_id == item.id).order_by(InboxNote.id)
        )
    )
    return _read(item, mention, load_settings(session, workspace_id=actor.workspace_id), notes)


def assignable_members(session: Session, *, actor: Actor, now: datetime) -> list[tuple[int, str]]:
    """(user id, name) of everyone who can answer: members who may write."""
    require(actor, Permission.READ_CAMPAIGNS)
    # Editors assign to colleagues without the right to manage members, hence the system view.
    members = list_members(
        session, actor=system_actor(session, workspace_slug=actor.workspace_slug), now=now
    )
    return [
        (m.user_id, m.display_name or m.email)
        for m in members
        if m.role.value in ("owner", "editor")
    ]


def _event(
    session: Session,
    *,
    actor: Actor | None,
    item: InboxItem,
    kind: EventKind,
    now: datetime,
    properties: dict[str, object],
) -> None:
    record_event(
        session,
        kind=kind,
        occurred_at=now,
        workspace_id=item.workspace_id,
        actor_type=actor.type if actor else ActorType.SYSTEM,
        actor_id=actor.id if actor else None,
        properties={"item_id": item.id, "mention_id": item.mention_id, **properties},
    )


def _set_status(
    item: InboxItem, status: InboxStatus, *, settings: ListeningSettingsRead, now: datetime
) -> None:
    item.status = status.value
    if status in (InboxStatus.REPLIED, InboxStatus.CLOSED):
        item.step_due_at = None  # answered: the ladder's clock stops
        if item.first_response_at is None:
            item.first_response_at = now
        item.resolved_at = now if status is InboxStatus.CLOSED else item.resolved_at
    else:
        item.resolved_at = None
        if item.step_due_at is None:
            ladder = settings.escalation_ladder
            step = ladder[min(item.escalation_step, len(ladder) - 1)]
            item.step_due_at = now + timedelta(minutes=step.minutes)


def _move(
    session: Session,
    item: InboxItem,
    status: InboxStatus,
    *,
    actor: Actor,
    settings: ListeningSettingsRead,
    now: datetime,
) -> None:
    """A person moves the item to `status`: set, and the change recorded (from, to)."""
    old = item.status
    _set_status(item, status, settings=settings, now=now)
    _event(
        session,
        actor=actor,
        item=item,
        kind=EventKind.INBOX_STATUS_CHANGED,
        now=now,
        properties={"from": old, "to": status.value},
    )


def do_update_inbox_item(
    session: Session, *, actor: Actor, item_id: int, data: InboxUpdate, now: datetime
) -> InboxItemRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    item, _mention = _item(session, actor=actor, item_id=item_id)
    settings = load_settings(session, workspace_id=actor.workspace_id)
    before = {"status": item.status, "priority": item.priority, "assignee": item.assignee_label}
    if data.unassign and item.assignee_id is not None:
        item.assignee_id = None
        item.assignee_label = None
        _event(
            session,
            actor=actor,
            item=item,
            kind=EventKind.INBOX_ASSIGNED,
            now=now,
            properties={"assignee_id": None},
        )
    elif data.assignee_id is not None and data.assignee_id != item.assignee_id:
        names = dict(assignable_members(session, actor=actor, now=now))
        if data.assignee_id not in names:
            raise InvalidInput(_("Assign to a member who can reply."), field="assignee_id")
        item.assignee_id = data.assignee_id
        item.assignee_label = names[data.assignee_id]
        if item.status == InboxStatus.NEW.value:
            _set_status(item, InboxStatus.IN_PROGRESS, settings=settings, now=now)
        _event(
            session,
            actor=actor,
            item=item,
            kind=EventKind.INBOX_ASSIGNED,
            now=now,
            properties={"assignee_id": data.assignee_id},
        )
    if data.priority is not None:
        item.priority = data.priority.value
    if data.status is not None and data.status.value != item.status:
        if data.status is InboxStatus.ESCALATED:
            _escalate(session, item, settings=settings, actor=actor, now=now)
        else:
            _move(session, item, data.status, actor=actor, settings=settings, now=now)
    item.updated_at = now
    session.flush()
    record_audit(
        session,
        actor,
        "listening.inbox.update",
        ("inbox_item", item.id),
        _("Inbox item updated"),
        now=now,
        before=before,
        after={"status": item.status, "priority": item.priority, "assignee": item.assignee_label},
    )
    return get_inbox_item(session, actor=actor, item_id=item.id)


def do_add_note(
    session: Session, *, actor: Actor, item_id: int, data: InboxNoteCreate, now: datetime
) -> InboxItemRead:
    """An internal note, or (reply=True) the answer sent to the author: that one counts as the
    first response and marks the item replied."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    item, _mention = _item(session, actor=actor, item_id=item_id)
    if item.status == InboxStatus.CLOSED.value and data.reply:
        raise Conflict(_("The item is closed; reopen it before replying."), field="status")
    session.add(
        InboxNote(
            item_id=item.id,
            kind="reply" if data.reply else "note",
            body=data.body,
            author=actor.label,
            created_at=now,
        )
    )
    if data.reply:
        settings = load_settings(session, workspace_id=actor.workspace_id)
        _move(session, item, InboxStatus.REPLIED, actor=actor, settings=settings, now=now)
    item.updated_at = now
    session.flush()
    return get_inbox_item(session, actor=actor, item_id=item.id)


def _escalate(
    session: Session,
    item: InboxItem,
    *,
    settings: ListeningSettingsRead,
    actor: Actor | None,
    now: datetime,
) -> None:
    ladder = settings.escalation_ladder
    old_step = item.escalation_step
    if item.escalation_step + 1 < len(ladder):
        item.escalation_step += 1
        item.step_due_at = now + timedelta(minutes=ladder[item.escalation_step].minutes)
    else:
        # Past the last rung there is nowhere higher to go: make it impossible to miss.
        item.step_due_at = None
        item.priority = Priority.URGENT.value
    item.status = InboxStatus.ESCALATED.value
    item.updated_at = now
    step_name = ladder[min(item.escalation_step, len(ladder) - 1)].name
    session.add(
        InboxNote(
            item_id=item.id,
            kind="system",
            created_at=now,
            author=actor.label if actor else "system",
            body=_("Escalated to step {n}: {name}").format(
                n=item.escalation_step + 1, name=step_name
            ),
        )
    )
    _event(
        session,
        actor=actor,
        item=item,
        kind=EventKind.INBOX_ESCALATED,
        now=now,
        properties={
            "from_step": old_step,
            "to_step": item.escalation_step,
            "automatic": actor is None,
        },
    )


def _overdue(now: datetime) -> ColumnElement[bool]:
    return and_(
        InboxItem.status.in_([s.value for s in OPEN_STATUSES]),
        InboxItem.step_due_at.is_not(None),
        InboxItem.step_due_at <= now,
    )


def overdue_item_ids(
    session: Session, *, now: datetime, after_id: int = 0, limit: int = 1000
) -> list[int]:
    """Open items, in every workspace, whose step's time limit has passed: the first `limit`
    after `after_id`, in id order (a job pages through them all)."""
    return list(
        session.scalars(
            select(InboxItem.id)
            .where(_overdue(now), InboxItem.id > after_id)
            .order_by(InboxItem.id)
            .limit(limit)
        )
    )


def do_escalate_overdue_item(session: Session, *, item_id: int, now: datetime) -> bool:
    """Move one open item whose step's time limit has passed one rung up its workspace's
    ladder; whether it moved. Idempotent: an escalated item gets the next step's limit,
    counted from now, and one no longer overdue is left alone."""
    item = session.scalars(
        select(InboxItem).where(InboxItem.id == item_id, _overdue(now)).with_for_update()
    ).first()
    if item is None:
        return False
    settings = load_settings(session, workspace_id=item.workspace_id)
    _escalate(session, item, settings=settings, actor=None, now=now)
    return True


# --- reply templates ------------------------------------------------------------------------


def list_reply_templates(session: Session, *, actor: Actor) -> list[ReplyTemplateRead]:
    require(actor, Permission.READ_CAMPAIGNS)
    rows = session.scalars(
        select(ReplyTemplate)
        .where(ReplyTemplate.workspace_id == actor.workspace_id)
        .order_by(ReplyTemplate.name)
    )
    return [ReplyTemplateRead.model_validate(r) for r in rows]


def do_create_reply_template(
    session: Session, *, actor: Actor, data: ReplyTemplateCreate, now: datetime
) -> ReplyTemplateRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    exists = session.scalar(
        select(ReplyTemplate.id).where(
            ReplyTemplate.workspace_id == actor.workspace_id, ReplyTemplate.name == data.name
        )
    )
    if exists is not None:
        raise Conflict(_("Another reply template already has this name."), field="name")
    row = ReplyTemplate(
        workspace_id=actor.workspace_id, name=data.name, body=data.body, created_at=now
    )
    session.add(row)
    session.flush()
    record_audit(
        session,
        actor,
        "listening.template",
        ("reply_template", row.id),
        _("Reply template “{name}” saved").format(name=data.name),
        now=now,
        after=data.model_dump(),
    )
    return ReplyTemplateRead.model_validate(row)


def do_delete_reply_template(
    session: Session, *, actor: Actor, template_id: int, now: datetime
) -> None:
    require(actor, Permission.WRITE_CAMPAIGNS)
    result = session.execute(
        delete(ReplyTemplate).where(
            ReplyTemplate.id == template_id, ReplyTemplate.workspace_id == actor.workspace_id
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound(_("Reply template not found."))


# --- metrics --------------------------------------------------------------------------------


def _minutes(later: datetime | None, earlier: datetime) -> float | None:
    return None if later is None else (later - earlier).total_seconds() / 60


def response_times(session: Session, *, actor: Actor, by: str) -> list[ResponseTimes]:
    """First-response and resolution times, per assignee (`by="person"`) or per topic."""
    require(actor, Permission.READ_CAMPAIGNS)
    rows: list[tuple[str, InboxItem]]
    if by == "topic":
        rows = [
            (name, item)
            for name, item in session.execute(
                select(Topic.name, InboxItem)
                .join(TopicMatch, TopicMatch.mention_id == InboxItem.mention_id)
                .join(Topic, Topic.id == TopicMatch.topic_id)
                .where(InboxItem.workspace_id == actor.workspace_id)
            )
        ]
    else:
        rows = [
            (item.assignee_label or _("Unassigned"), item)
            for item in session.scalars(
                select(InboxItem).where(InboxItem.workspace_id == actor.workspace_id)
            )
        ]
    groups: dict[str, list[InboxItem]] = {}
    for key, item in rows:
        groups.setdefault(key, []).append(item)
    result = []
    for key, items in sorted(groups.items()):
        first = [m for i in items if (m := _minutes(i.first_response_at, i.created_at)) is not None]
        resolved = [m for i in items if (m := _minutes(i.resolved_at, i.created_at)) is not None]
        result.append(
            ResponseTimes(
                key=key,
                items=len(items),
                responded=len(first),
                resolved=len(resolved),
                median_first_response_minutes=median(first) if first else None,
                median_resolution_minutes=median(resolved) if resolved else None,
            )
        )
    return result
