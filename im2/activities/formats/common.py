"""What the formats' services share on the console's side: reading an activity of one kind,
editing only its texts, and the review of participation held as suspicious (a check-in, a
draw entry, a ballot, an answer, a survey response).

A held row is a row of the format's own table with `activity_id`, `participant_id`, `held`
and `risk_reasons`; the console lists them (`held_rows`) and an editor counts or discards each
(`HeldReview`), which the audit log records as `<action>.approve` / `<action>.reject`. What
counting one means beyond clearing its flag (a milestone reached, a prize drawn) is the
format's own rule, given as `release`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.models import Activity
from im2.activities.protocol import CreateActivity
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.activities.service import Acting
from im2.activities.service import update_texts as update_texts  # the formats' edits
from im2.errors import NotFound
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.participation.schemas import Visitor
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

H = TypeVar("H")  # a held row's model: `id`, `activity_id`, `participant_id`, `held`

Release = Callable[[Session, Activity, Any, bool, datetime], None]
"""`release(session, activity, row, approve, now)`: the format's decision on a held row."""


def console_activity(
    session: Session, *, actor: Actor, activity_id: int, kind: ActivityKind
) -> Activity:
    """The activity of `kind` the actor reads in the console (403 without the right, 404 if it
    is not in the workspace or of another kind)."""
    require(actor, Permission.READ_CAMPAIGNS)
    return activities.load_activity(session, actor=actor, activity_id=activity_id, kind=kind)


def add_activity(
    session: Session,
    kind: ActivityKind,
    *,
    actor: Actor,
    campaign_id: int,
    data: Any,
    settings: dict[str, Any],
    now: datetime,
) -> Activity:
    """The row of a new activity of `kind`, titled and described as its create model `data`
    says (`im2.activities.service.create_activity_row`: checks, audit entry, event); the
    format then adds its own rows under it."""
    return activities.create_activity_row(
        session,
        actor=actor,
        campaign_id=campaign_id,
        kind=kind,
        title=data.title,
        description=data.description,
        settings=settings,
        now=now,
    )


def create_with(kind: ActivityKind, settings: Callable[[Any], dict[str, Any]]) -> CreateActivity:
    """The create of a format that is only its texts and the settings `settings` reads from
    the create model (no rows of its own)."""

    def do_create(
        session: Session, *, actor: Actor, campaign_id: int, data: Any, now: datetime
    ) -> ActivityRead:
        row = add_activity(
            session,
            kind,
            actor=actor,
            campaign_id=campaign_id,
            data=data,
            settings=settings(data),
            now=now,
        )
        return activities.to_read(row)

    return do_create


def held_rows(session: Session, *, model: type[H], activity_id: int) -> list[H]:
    """The activity's rows of `model` waiting for review, oldest first."""
    table: Any = model
    return list(
        session.scalars(
            select(table)
            .where(table.activity_id == activity_id, table.held.is_(True))
            .order_by(table.id)
        )
    )


@dataclass(frozen=True, slots=True)
class HeldReview:
    """A format's review of its held rows, called as its `do_review_<row>`:
    `review(session, actor=, activity_id=, <row>=<row id>, approve=, now=)`.

    A held row is counted (its flag cleared) or discarded (deleted), unless `release` decides;
    `missing` (a msgid) is the answer when there is no such row waiting (another editor may
    have reviewed it first); the audit log records `<action>.approve` / `<action>.reject` on
    `target_type` (the action's name unless given)."""

    kind: ActivityKind
    model: type[Any]
    row: str  # the keyword of the row's id, e.g. "entry_id"
    missing: str
    action: str
    target_type: str = ""
    release: Release | None = None

    def __call__(
        self,
        session: Session,
        *,
        actor: Actor,
        activity_id: int,
        approve: bool,
        now: datetime,
        **row_id: int,
    ) -> None:
        (target_id,) = row_id.values()
        require(actor, Permission.WRITE_CAMPAIGNS)
        activity = activities.load_activity(
            session, actor=actor, activity_id=activity_id, kind=self.kind
        )
        row: Any = session.get(self.model, target_id)
        if row is None or row.activity_id != activity.id or not row.held:
            raise NotFound(_(self.missing))
        if self.release is not None:
            self.release(session, activity, row, approve, now)
        elif approve:
            row.held = False
        else:
            session.delete(row)
        record_audit(
            session,
            actor,
            f"{self.action}.approve" if approve else f"{self.action}.reject",
            (self.target_type or self.action, target_id),
            activity.title,
            now=now,
            before={"held": True},
            after={"held": False} if approve else None,
            workspace_id=activity.workspace_id,
        )


def participant_event(
    session: Session,
    kind: EventKind,
    *,
    activity: Activity,
    participant_id: int,
    now: datetime,
    properties: dict[str, Any],
    visitor: Visitor | None = None,
    referrer: str | None = None,
) -> None:
    """Record what a participant did on the activity (or what befell them there: a prize won,
    a team completed); when it is their own action, the visitor's channel and referrer come
    with it, or `referrer` where the action came through a share code."""
    record_event(
        session,
        kind=kind,
        occurred_at=now,
        workspace_id=activity.workspace_id,
        campaign_id=activity.campaign_id,
        activity_id=activity.id,
        actor_type=ActorType.PARTICIPANT,
        actor_id=participant_id,
        channel=None if visitor is None else visitor.channel,
        referrer=referrer if referrer is not None or visitor is None else visitor.referrer,
        properties=properties,
    )


def acting_event(
    session: Session,
    kind: EventKind,
    *,
    activity: Activity,
    acting: Acting,
    now: datetime,
    visitor: Visitor,
    **properties: Any,
) -> None:
    """`participant_event` for what a visitor just did as `acting` (joined and assessed): its
    `properties`, then whether it is held for review and its risk score."""
    participant_event(
        session,
        kind,
        activity=activity,
        participant_id=acting.participant.id,
        now=now,
        visitor=visitor,
        properties={**properties, "held": acting.held, "risk": acting.risk.score},
    )
