"""Deleting an activity (console and API).

An activity nobody has taken part in goes outright: its row and its own setup (options,
questions, prizes …, by the tables' ON DELETE CASCADE) in one transaction, with an audit entry.
An activity with people's data stays: its rows feed the campaign's results, reports and exports,
and data-subject requests walk them (`ActivityFormat.people_data`), so deleting it would destroy
what the brand must still be able to show or hand over. The marketer is told to end the
campaign instead (and archive it to clear it from the lists); its data stays. An activity that
another domain's row names (an A/B experiment on it, which would go with it) stays too.

A write racing the delete never leaves half a record: the delete locks the activity row before
it looks for people's data (PostgreSQL; a participant's insert holds a key-share lock on that row
through its foreign key until it commits, so the delete waits for it and then sees its rows, or
the insert waits for the delete and then fails on the foreign key and writes nothing); on SQLite
write transactions run one at a time. Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Table, select
from sqlalchemy.orm import Session

from im2.activities.models import Activity
from im2.activities.registry import FORMATS
from im2.activities.schemas import ActivityKind
from im2.activities.service import load_activity
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import EDITABLE_STATUSES, CampaignRead
from im2.db import Base
from im2.errors import Conflict, NotFound
from im2.i18n import N_, _
from im2.workspaces import service as workspaces
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

DELETE_ACTION = "activity.delete"

HAS_PEOPLE = N_(
    "People have already taken part in this activity, so it cannot be deleted: their answers "
    "feed the campaign's results, reports and exports, and data requests. To stop taking part, "
    "end the campaign; archive it to take it out of the lists. Its data stays available."
)
USED_ELSEWHERE = N_(
    "Something else in the workspace uses this activity (such as an A/B experiment), so it "
    "cannot be deleted: deleting it would delete that too. Remove that first."
)
CAMPAIGN_CLOSED = N_(
    "This activity's campaign has ended or is archived, so its activities can no longer be "
    "deleted; its data stays available for reports."
)


@dataclass(frozen=True, slots=True)
class DeletionCheck:
    """Whether an activity may be deleted now, and if not why (a translated sentence)."""

    activity_id: int
    title: str
    kind: ActivityKind
    campaign: CampaignRead
    refusal: str | None

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def _of_activity(table: Table, activity_id: int) -> ColumnElement[bool] | None:
    """The rows of a people-data table that belong to the activity: by its own `activity_id`,
    or through a parent row that has one (a poll choice through its ballot)."""
    if "activity_id" in table.c:
        return table.c.activity_id == activity_id
    for key in table.foreign_keys:
        parent = key.column.table
        if isinstance(parent, Table) and parent.name != "activities" and "activity_id" in parent.c:
            owned = select(key.column).where(parent.c.activity_id == activity_id)
            return table.c[key.parent.name].in_(owned)
    return None  # a campaign-wide table (e.g. referral clicks): not this activity's


def has_people_data(session: Session, *, kind: ActivityKind, activity_id: int) -> bool:
    """Whether any table the format declares as holding people's data has a row of this
    activity (one indexed EXISTS read per table, stopping at the first found)."""
    fmt = FORMATS.get(kind)
    if fmt is None:
        return False
    for data in fmt.people_data:
        table = Base.metadata.tables[data.table]
        rows = _of_activity(table, activity_id)
        if rows is not None and session.execute(select(1).where(rows).limit(1)).first():
            return True
    return False


def _users_elsewhere() -> list[tuple[Table, str]]:
    """The tables outside the activities package (another domain's, such as experiments) with a
    foreign key to an activity, and that key's column: found from the metadata, so a domain that
    adds one is covered without telling this module."""
    found = []
    for mapper in Base.registry.mappers:
        if mapper.class_.__module__.startswith("im2.activities."):
            continue
        for table in mapper.tables:
            for key in table.foreign_keys:
                if isinstance(table, Table) and key.column.table.name == "activities":
                    found.append((table, key.parent.name))
    return found


def used_elsewhere(session: Session, *, activity_id: int) -> bool:
    """Whether another domain's row names this activity (deleting it would cascade there)."""
    for table, column in _users_elsewhere():
        if session.execute(select(1).where(table.c[column] == activity_id).limit(1)).first():
            return True
    return False


def check_delete_activity(
    session: Session, *, actor: Actor, activity_id: int, lock: bool = False
) -> DeletionCheck:
    """What deleting would do, for the confirm step (and, with `lock`, the delete itself: the
    activity row is then locked before its data is looked for)."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    if lock:
        session.execute(select(Activity.id).where(Activity.id == activity_id).with_for_update())
    row = load_activity(session, actor=actor, activity_id=activity_id)
    campaign = campaigns.get_campaign(session, actor=actor, campaign_id=row.campaign_id)
    kind = ActivityKind(row.kind)
    refusal = None
    if campaign.status not in EDITABLE_STATUSES:
        refusal = _(CAMPAIGN_CLOSED)
    elif has_people_data(session, kind=kind, activity_id=row.id):
        refusal = _(HAS_PEOPLE)
    elif used_elsewhere(session, activity_id=row.id):
        refusal = _(USED_ELSEWHERE)
    return DeletionCheck(row.id, row.title, kind, campaign, refusal)


def was_deleted(session: Session, *, actor: Actor, activity_id: int) -> bool:
    """Whether this workspace deleted this activity before (its audit log says so): a repeated
    delete then succeeds again instead of answering 404."""
    reader = workspaces.system_actor(session, workspace_slug=actor.workspace_slug)
    found = workspaces.list_audit(
        session,
        actor=reader,
        action_prefix=DELETE_ACTION,
        target=("activity", activity_id),
        limit=1,
    )
    return bool(found)


def do_delete_activity(
    session: Session, *, actor: Actor, activity_id: int, now: datetime
) -> DeletionCheck | None:
    """Delete an activity nobody has taken part in, with an audit entry; Conflict (409) with the
    reason when it has people's data or its campaign is closed. Idempotent: an activity this
    workspace already deleted gives None (NotFound for one it never had)."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    try:
        check = check_delete_activity(session, actor=actor, activity_id=activity_id, lock=True)
    except NotFound:
        if was_deleted(session, actor=actor, activity_id=activity_id):
            return None
        raise
    if check.refusal is not None:
        raise Conflict(check.refusal)
    row = session.get(Activity, activity_id)
    assert row is not None  # locked above
    record_audit(
        session,
        actor,
        DELETE_ACTION,
        ("activity", row.id),
        row.title,
        now=now,
        before={
            "title": row.title,
            "kind": row.kind,
            "campaign_id": row.campaign_id,
            "description": row.description,
            "settings": row.settings,
        },
        workspace_id=row.workspace_id,
    )
    session.delete(row)
    session.flush()
    return check
