"""The one event writer (one event, or many in one insert, in the caller's transaction) and
reading and exporting events.

Both writers announce the event's campaign after the commit (`im2.db.announce`, topic
`NEW_EVENTS`): the live hub listens, and dashboards follow the campaign's events instead of
asking the database (im2/analytics/live.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sqlalchemy import ColumnElement, Select, Table, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from im2.db import announce
from im2.events.models import Event
from im2.events.schemas import ActorType, EventKind, EventRecord
from im2.spreadsheet import safe_batch

# The after-commit topic of new events; the key announced is the campaign id.
NEW_EVENTS = "events"


def record_event(
    session: Session,
    *,
    kind: EventKind,
    occurred_at: datetime,
    workspace_id: int,
    actor_type: ActorType,
    actor_id: str | int | None,
    campaign_id: int | None = None,
    activity_id: int | None = None,
    channel: str | None = None,
    referrer: str | None = None,
    properties: dict[str, Any] | None = None,
) -> Event:
    """Append one event. The caller's transaction makes it commit with the action it records."""
    row = Event(
        occurred_at=occurred_at,
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        activity_id=activity_id,
        actor_type=actor_type.value,
        actor_id=None if actor_id is None else str(actor_id),
        kind=kind.value,
        channel=channel,
        referrer=referrer,
        properties=properties or {},
    )
    session.add(row)
    if campaign_id is not None:
        announce(session, NEW_EVENTS, campaign_id)
    return row


def event_row(
    *,
    kind: EventKind,
    occurred_at: datetime,
    workspace_id: int,
    campaign_id: int | None,
    activity_id: int | None,
    actor_id: int,
    channel: str | None,
    referrer: str | None,
    properties: dict[str, object],
    actor_type: ActorType = ActorType.PARTICIPANT,
) -> dict[str, object]:
    """One event as a row for `record_events` (what `record_event` writes), for hot paths that
    write many at once."""
    return {
        "occurred_at": occurred_at,
        "workspace_id": workspace_id,
        "campaign_id": campaign_id,
        "activity_id": activity_id,
        "actor_type": actor_type.value,
        "actor_id": str(actor_id),
        "kind": kind.value,
        "channel": channel,
        "referrer": referrer,
        "properties": properties,
    }


def record_events(session: Session, rows: list[dict[str, object]]) -> None:
    """Append many `event_row`s in one multi-row insert, in the caller's transaction."""
    if not rows:
        return
    session.connection().execute(cast(Table, Event.__table__).insert(), rows)
    for campaign_id in {row["campaign_id"] for row in rows}:
        if isinstance(campaign_id, int):
            announce(session, NEW_EVENTS, campaign_id)


def _to_record(row: Event) -> EventRecord:
    return EventRecord(
        id=row.id,
        occurred_at=row.occurred_at,
        workspace_id=row.workspace_id,
        campaign_id=row.campaign_id,
        activity_id=row.activity_id,
        actor_type=row.actor_type,
        actor_id=row.actor_id,
        kind=row.kind,
        channel=row.channel,
        referrer=row.referrer,
        # Only record_event writes events, always with an object; a row changed by hand (or by
        # an old bug) to a list or a number reads as no properties rather than stopping every
        # follower of the log at it.
        properties=dict(row.properties) if isinstance(row.properties, dict) else {},
    )


def _filtered(
    *,
    workspace_id: int | None,
    campaign_id: int | None,
    kinds: list[str] | None,
    since: datetime | None,
    until: datetime | None,
) -> Select[Event]:
    query = select(Event)
    if workspace_id is not None:
        query = query.where(Event.workspace_id == workspace_id)
    if campaign_id is not None:
        query = query.where(Event.campaign_id == campaign_id)
    if kinds:
        query = query.where(Event.kind.in_(kinds))
    if since is not None:
        query = query.where(Event.occurred_at >= since)
    if until is not None:
        query = query.where(Event.occurred_at < until)
    return query


def list_events(
    session: Session,
    *,
    workspace_id: int | None = None,
    campaign_id: int | None = None,
    kinds: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    after_id: int | None = None,
) -> list[EventRecord]:
    """Events in id order. Consumers that follow the log (rewards, webhooks) keep the last id they
    handled and pass it as `after_id`, with `until` a few seconds back so that an event whose
    transaction commits late on PostgreSQL is not jumped over (SQLite commits in id order)."""
    query = _filtered(
        workspace_id=workspace_id, campaign_id=campaign_id, kinds=kinds, since=since, until=until
    ).order_by(Event.id)
    if after_id is not None:
        query = query.where(Event.id > after_id)
    if limit is not None:
        query = query.limit(limit)
    return [_to_record(row) for row in session.scalars(query)]


def newest_event_id(session: Session, *, campaign_ids: Sequence[int], after: int) -> int:
    """The newest event id of the campaigns above `after`, or `after` when there is none (one
    index lookup: watchers ask it every second)."""
    if not campaign_ids:
        return after
    newest = session.scalar(
        select(func.max(Event.id)).where(Event.campaign_id.in_(campaign_ids), Event.id > after)
    )
    return int(newest) if newest is not None else after


def last_event_id(session: Session) -> int:
    """The newest event id of all (0 when there is none)."""
    return int(session.scalar(select(func.max(Event.id))) or 0)


def delete_events_through(session: Session, *, last_id: int, before: datetime) -> int:
    """Delete the events up to `last_id` that occurred before `before` (the lake's retention:
    only events already moved to the lake); returns how many went."""
    result = session.execute(delete(Event).where(Event.id <= last_id, Event.occurred_at < before))
    return int(getattr(result, "rowcount", 0) or 0)


def count_events(
    session: Session,
    *,
    workspace_id: int | None = None,
    campaign_id: int | None = None,
    kinds: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    inner = _filtered(
        workspace_id=workspace_id, campaign_id=campaign_id, kinds=kinds, since=since, until=until
    ).subquery()
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def count_events_by_channel(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int | None = None,
    kinds: list[str] | None = None,
) -> dict[str | None, int]:
    """How many events of these kinds each channel tag has (None: no channel)."""
    query = _filtered(
        workspace_id=workspace_id, campaign_id=campaign_id, kinds=kinds, since=None, until=None
    )
    inner = query.with_only_columns(Event.channel).subquery()
    rows = session.execute(select(inner.c.channel, func.count()).group_by(inner.c.channel))
    return {channel: int(n) for channel, n in rows}


def campaign_actors(*, workspace_id: int, campaign_id: int, actor_type: ActorType) -> Select[Any]:
    """A subquery (for an IN) of the distinct actor ids of this type with events in the
    campaign: who took part in it (the people list's campaign filter)."""
    return (
        select(Event.actor_id)
        .where(
            Event.campaign_id == campaign_id,
            Event.workspace_id == workspace_id,
            Event.actor_type == actor_type.value,
        )
        .distinct()
    )


def actor_events(
    session: Session,
    *,
    workspace_id: int,
    actor_ids: Sequence[str] = (),
    actor_kinds: Sequence[str] = (),
    referrers: Sequence[str] = (),
    referred_kinds: Sequence[str] = (),
    participant_ids: Sequence[int] = (),
    participant_kinds: Sequence[str] = (),
    before: tuple[datetime, int] | None = None,
    limit: int = 50,
) -> list[EventRecord]:
    """One actor's events across campaigns, newest first by time then id (a person's timeline):
    those whose
    `actor_id` is one of `actor_ids`, those of `referred_kinds` that came through one of
    their share codes (`referrers`), and those of `participant_kinds` recorded by the system
    about one of `participant_ids` (`properties.participant`: points, coupons, prizes).
    `actor_kinds` narrows the actor's own events to those kinds; `before` continues a page."""
    parts: list[ColumnElement[bool]] = []
    if actor_ids:
        mine = Event.actor_id.in_(list(actor_ids))
        parts.append(and_(mine, Event.kind.in_(list(actor_kinds))) if actor_kinds else mine)
    if referrers and referred_kinds:
        parts.append(
            and_(Event.kind.in_(list(referred_kinds)), Event.referrer.in_(list(referrers)))
        )
    if participant_ids and participant_kinds:
        about = Event.properties["participant"]
        if session.get_bind().dialect.name == "postgresql":
            match = about.as_string().in_([str(p) for p in participant_ids])
        else:  # SQLite's json_extract gives the stored integer
            match = about.as_integer().in_(list(participant_ids))
        parts.append(
            and_(
                Event.actor_type == ActorType.SYSTEM.value,
                Event.kind.in_(list(participant_kinds)),
                match,
            )
        )
    if not parts:
        return []
    query = select(Event).where(Event.workspace_id == workspace_id, or_(*parts))
    if before is not None:  # the (time, id) of the last event of the previous page
        at, last_id = before
        query = query.where(
            or_(Event.occurred_at < at, and_(Event.occurred_at == at, Event.id < last_id))
        )
    newest = query.order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit)
    return [_to_record(row) for row in session.scalars(newest)]


class ExportFormat(StrEnum):
    PARQUET = "parquet"
    CSV = "csv"
    JSONL = "jsonl"


EVENT_ARROW_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("occurred_at", pa.timestamp("us", tz="UTC")),
        ("workspace_id", pa.int64()),
        ("campaign_id", pa.int64()),
        ("activity_id", pa.int64()),
        ("actor_type", pa.string()),
        ("actor_id", pa.string()),
        ("kind", pa.string()),
        ("channel", pa.string()),
        ("referrer", pa.string()),
        ("properties", pa.string()),  # JSON text: engines differ on maps of mixed values
    ]
)


def _batches(session: Session, query: Select[Event], batch_size: int) -> Iterator[pa.RecordBatch]:
    last_id = 0
    while True:
        rows = list(
            session.scalars(query.where(Event.id > last_id).order_by(Event.id).limit(batch_size))
        )
        if not rows:
            return
        last_id = rows[-1].id
        yield pa.RecordBatch.from_pydict(
            {
                "id": [r.id for r in rows],
                "occurred_at": [r.occurred_at for r in rows],
                "workspace_id": [r.workspace_id for r in rows],
                "campaign_id": [r.campaign_id for r in rows],
                "activity_id": [r.activity_id for r in rows],
                "actor_type": [r.actor_type for r in rows],
                "actor_id": [r.actor_id for r in rows],
                "kind": [r.kind for r in rows],
                "channel": [r.channel for r in rows],
                "referrer": [r.referrer for r in rows],
                "properties": [
                    json.dumps(r.properties or {}, ensure_ascii=False, sort_keys=True) for r in rows
                ],
            },
            schema=EVENT_ARROW_SCHEMA,
        )


def export_events(
    session: Session,
    *,
    output: Path,
    fmt: ExportFormat,
    workspace_id: int | None = None,
    campaign_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    batch_size: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Stream the matching events to `output` in batches; returns how many were written."""
    query = _filtered(
        workspace_id=workspace_id, campaign_id=campaign_id, kinds=None, since=since, until=until
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    tmp = output.with_name(output.name + ".partial")
    if fmt is ExportFormat.PARQUET:
        with pq.ParquetWriter(tmp, EVENT_ARROW_SCHEMA, compression="zstd") as writer:
            for batch in _batches(session, query, batch_size):
                writer.write_batch(batch)
                written += batch.num_rows
                if progress:
                    progress(batch.num_rows)
    elif fmt is ExportFormat.CSV:
        with pa_csv.CSVWriter(tmp, EVENT_ARROW_SCHEMA) as csv_writer:
            for batch in _batches(session, query, batch_size):
                # The CSV is for spreadsheets: a channel or referrer a visitor typed must not
                # run as a formula there (Parquet and JSONL keep the values exactly).
                csv_writer.write_batch(safe_batch(batch))
                written += batch.num_rows
                if progress:
                    progress(batch.num_rows)
    else:
        with tmp.open("w", encoding="utf-8") as handle:
            for batch in _batches(session, query, batch_size):
                for row in batch.to_pylist():
                    row["occurred_at"] = row["occurred_at"].isoformat()
                    row["properties"] = json.loads(row["properties"])
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                written += batch.num_rows
                if progress:
                    progress(batch.num_rows)
    # A reader never sees a half-written export: the file appears whole or not at all.
    tmp.replace(output)
    return written
