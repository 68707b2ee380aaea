"""The facts a segment reads from the event log, kept per actor identity.

Campaigns and activity kinds taken part in, the first touch (channel and source), and the
points balance are in the event log, which moves to the lake and is too large to scan for
every count. A job follows the log (events are below people in the layers, so no provider is
needed) and keeps them in `segment_actor_facts` and `segment_actor_campaigns`, keyed by the
actor's identity (device or participant) rather than by person: a merge or its undo moves the
identity, and the facts follow it through the identity index with nothing to recompute.

- Taking part: an event of a participant (not a view) in a campaign; the activity kind comes
  from the event's kind (`vote.cast` is a poll, …), `''` for actions outside an activity.
- First touch: the channel and referrer (share code) of the actor's oldest event.
- Points: `points.awarded` adds, `points.spent` and `points.expired` take away.

Counting a million people cannot join through the identities for each rule (a window over
every person's identities to find their first touch took 0.8 s at 100,000 people), so the job
also keeps the facts per person (`segment_person_facts`, `segment_person_campaigns`),
rewritten from the actor facts for each person whose identities gained facts in the batch, and
for both people of every merge and undo since its last run.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from im2.events.schemas import VIEW_KINDS, ActorType, EventKind, EventRecord
from im2.events.service import list_events
from im2.people.models import Person, PersonIdentity, PersonMerge
from im2.people.segments.models import (
    SegmentActorCampaign,
    SegmentActorFacts,
    SegmentFactsCursor,
    SegmentPersonCampaign,
    SegmentPersonFacts,
)

CURSOR = "facts"
# Events younger than this wait for the next run: on PostgreSQL a transaction holding a lower
# id may commit after a higher one (the webhooks' outbox waits the same way).
SETTLE = timedelta(seconds=10)
_VISITOR = "d:"
_VIEWS = frozenset(k.value for k in VIEW_KINDS)
_POINTS = {
    EventKind.POINTS_AWARDED.value: 1,
    EventKind.POINTS_SPENT.value: -1,
    EventKind.POINTS_EXPIRED.value: -1,
}
# The activity format an event kind belongs to (its prefix).
_ACTIVITY_KINDS = {
    "vote": "poll",
    "quiz": "quiz",
    "prediction": "quiz",
    "survey": "survey",
    "question": "qa",
    "ugc": "ugc",
    "draw": "draw",
    "checkin": "checkin",
    "groupbuy": "groupbuy",
    "referral": "referral",
    "card": "cards",
}

# The bit of each activity kind in `people.activity_kinds`; fixed for good (the migration
# d8b024717e15 backfilled with them): a new kind takes the next free bit.
KIND_BITS: dict[str, int] = {
    kind: 1 << bit
    for bit, kind in enumerate(
        ("poll", "quiz", "survey", "qa", "ugc", "draw", "checkin", "groupbuy", "referral", "cards")
    )
}
ALL_KINDS = sum(KIND_BITS.values())  # every bit: `people.activity_kinds` is within 0..ALL_KINDS

Key = tuple[int, str, str]  # workspace, identity kind, identity value


@dataclass
class _Batch:
    first: dict[Key, tuple[datetime, str | None, str | None]] = field(default_factory=dict)
    points: dict[Key, int] = field(default_factory=lambda: defaultdict(int))
    campaigns: set[tuple[Key, int, str]] = field(default_factory=set)


def actor_identity(actor_id: str) -> tuple[str, str]:
    """The identity (kind, value) behind an event's `actor_id`."""
    if actor_id.startswith(_VISITOR):
        return "device", actor_id[len(_VISITOR) :]
    return "participant", actor_id


def _read(events: list[EventRecord]) -> _Batch:
    batch = _Batch()
    for event in events:
        delta = _POINTS.get(event.kind)
        if delta is not None:
            who = event.properties.get("participant") or event.actor_id
            amount = event.properties.get("points")
            if who is not None and isinstance(amount, int):
                batch.points[(event.workspace_id, "participant", str(who))] += delta * amount
            continue
        if not event.actor_id or event.actor_type not in (ActorType.PARTICIPANT, ActorType.VISITOR):
            continue
        key = (event.workspace_id, *actor_identity(event.actor_id))
        seen = batch.first.get(key)
        if seen is None or event.occurred_at < seen[0]:
            source = event.referrer or event.properties.get("referrer")
            batch.first[key] = (
                event.occurred_at,
                event.channel,
                str(source)[:64] if source else None,
            )
        if (
            event.actor_type == ActorType.PARTICIPANT
            and event.campaign_id is not None
            and event.kind not in _VIEWS
        ):
            kind = ""
            if event.activity_id is not None:
                kind = _ACTIVITY_KINDS.get(event.kind.split(".", 1)[0], "")
            batch.campaigns.add((key, event.campaign_id, kind))
    return batch


def _store(session: Session, batch: _Batch) -> None:
    keys = set(batch.first) | set(batch.points)
    by_kind: dict[tuple[int, str], list[str]] = defaultdict(list)
    for ws, kind, value in keys:
        by_kind[(ws, kind)].append(value)
    known: dict[Key, SegmentActorFacts] = {}
    for (ws, kind), values in by_kind.items():
        for start in range(0, len(values), 500):
            stored = session.scalars(
                select(SegmentActorFacts).where(
                    SegmentActorFacts.workspace_id == ws,
                    SegmentActorFacts.identity_kind == kind,
                    SegmentActorFacts.identity_value.in_(values[start : start + 500]),
                )
            )
            for one in stored:
                known[(ws, kind, one.identity_value)] = one
    for key in sorted(keys):
        found = known.get(key)
        row = found
        if row is None:
            row = SegmentActorFacts(
                workspace_id=key[0], identity_kind=key[1], identity_value=key[2], points=0
            )
            session.add(row)
        first = batch.first.get(key)
        if first is not None and (row.first_at is None or first[0] < row.first_at):
            row.first_at, row.first_channel, row.first_source = first
        row.points = (row.points or 0) + batch.points.get(key, 0)
    if batch.campaigns:
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        rows: list[dict[str, object]] = [
            {
                "workspace_id": key[0],
                "identity_kind": key[1],
                "identity_value": key[2],
                "campaign_id": campaign_id,
                "activity_kind": kind,
            }
            for key, campaign_id, kind in sorted(batch.campaigns)
        ]
        session.execute(insert(SegmentActorCampaign).on_conflict_do_nothing(), rows)
    session.flush()


def _persons_of(session: Session, keys: set[Key]) -> set[int]:
    """The people holding these actor identities now."""
    by_kind: dict[tuple[int, str], list[str]] = defaultdict(list)
    for ws, kind, value in keys:
        by_kind[(ws, kind)].append(value)
    found: set[int] = set()
    for (ws, kind), values in by_kind.items():
        for start in range(0, len(values), 500):
            found.update(
                session.scalars(
                    select(PersonIdentity.person_id).where(
                        PersonIdentity.workspace_id == ws,
                        PersonIdentity.kind == kind,
                        PersonIdentity.value.in_(values[start : start + 500]),
                    )
                )
            )
    return found


def _join_actor(model: type[SegmentActorFacts] | type[SegmentActorCampaign]) -> Any:
    return (
        (model.workspace_id == PersonIdentity.workspace_id)
        & (model.identity_kind == PersonIdentity.kind)
        & (model.identity_value == PersonIdentity.value)
    )


def do_recompute_people(session: Session, *, person_ids: set[int]) -> None:
    """Rewrite the person-level facts of these people from their identities' facts (a person
    merged away has no identities left, so none)."""
    ids = sorted(person_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        session.execute(delete(SegmentPersonFacts).where(SegmentPersonFacts.person_id.in_(chunk)))
        session.execute(
            delete(SegmentPersonCampaign).where(SegmentPersonCampaign.person_id.in_(chunk))
        )
        rows = session.execute(
            select(
                PersonIdentity.person_id,
                PersonIdentity.workspace_id,
                SegmentActorFacts.id,
                SegmentActorFacts.first_at,
                SegmentActorFacts.first_channel,
                SegmentActorFacts.first_source,
                SegmentActorFacts.points,
            )
            .join(SegmentActorFacts, _join_actor(SegmentActorFacts))
            .where(PersonIdentity.person_id.in_(chunk))
        ).all()
        facts: dict[int, dict[str, Any]] = {}
        firsts: dict[int, tuple[datetime, int]] = {}
        for person_id, ws, fact_id, first_at, channel, source, points in rows:
            mine = facts.setdefault(
                person_id,
                {"person_id": person_id, "workspace_id": ws, "points": 0,
                 "first_channel": None, "first_source": None},
            )  # fmt: skip
            mine["points"] += points or 0
            if first_at is not None and (
                person_id not in firsts or (first_at, fact_id) < firsts[person_id]
            ):
                firsts[person_id] = (first_at, fact_id)
                mine["first_channel"], mine["first_source"] = channel, source
        if facts:
            session.execute(insert(SegmentPersonFacts), list(facts.values()))
        took_part = session.execute(
            select(
                PersonIdentity.person_id,
                PersonIdentity.workspace_id,
                SegmentActorCampaign.campaign_id,
                SegmentActorCampaign.activity_kind,
            )
            .join(SegmentActorCampaign, _join_actor(SegmentActorCampaign))
            .where(PersonIdentity.person_id.in_(chunk))
            .distinct()
        ).all()
        if took_part:
            session.execute(
                insert(SegmentPersonCampaign),
                [
                    {"person_id": p, "workspace_id": w, "campaign_id": c, "activity_kind": k}
                    for p, w, c, k in took_part
                ],
            )
        _store_kinds(session, chunk, took_part)


def _store_kinds(session: Session, people: list[int], took_part: Any) -> None:
    """Each person's activity kinds as bits on their row (0 for a person merged away), where
    they changed."""
    kinds = dict.fromkeys(people, 0)
    for person_id, _ws, _campaign, kind in took_part:
        kinds[person_id] |= KIND_BITS.get(kind, 0)
    people_table = cast(Table, Person.__table__)
    session.execute(
        update(people_table)
        .where(
            people_table.c.id == bindparam("pid"),
            people_table.c.activity_kinds != bindparam("kinds"),
        )
        .values(activity_kinds=bindparam("kinds")),
        [{"pid": p, "kinds": k} for p, k in kinds.items()],
    )


def _merged_people(session: Session, cursor: SegmentFactsCursor, now: datetime) -> set[int]:
    """Both people of every merge made, or undone, since the last run; moves the cursor."""
    since = cursor.checked_at
    changed = select(PersonMerge.id, PersonMerge.kept_id, PersonMerge.merged_id).where(
        or_(
            PersonMerge.id > cursor.last_merge_id,
            PersonMerge.undone_at >= since
            if since is not None
            else PersonMerge.undone_at.is_not(None),
        )
    )
    people: set[int] = set()
    for merge_id, kept, merged in session.execute(changed):
        people.update((kept, merged))
        cursor.last_merge_id = max(cursor.last_merge_id, merge_id)
    cursor.checked_at = now
    return people


def do_update_facts(session: Session, *, now: datetime, batch: int = 5000) -> int:
    """Read the event log after the cursor (one batch, settled events only) into the facts,
    and rewrite the person-level facts of the people it touched or that merges changed.
    Returns how many events were read; the cursor moves in the same transaction, so a batch is
    applied exactly once."""
    cursor = session.get(SegmentFactsCursor, CURSOR, with_for_update=True)
    if cursor is None:
        cursor = SegmentFactsCursor(name=CURSOR, last_event_id=0, last_merge_id=0)
        session.add(cursor)
        session.flush()
    merged = _merged_people(session, cursor, now)
    if merged:
        do_recompute_people(session, person_ids=merged)
    events = list_events(session, after_id=cursor.last_event_id, limit=batch)
    horizon = now - SETTLE
    ready: list[EventRecord] = []
    for event in events:
        if event.occurred_at >= horizon:
            break  # later ids wait too: the cursor only moves over a settled prefix
        ready.append(event)
    if not ready:
        return 0
    read = _read(ready)
    _store(session, read)
    touched = _persons_of(
        session, set(read.first) | set(read.points) | {k for k, _c, _a in read.campaigns}
    )
    do_recompute_people(session, person_ids=touched)
    cursor.last_event_id = ready[-1].id
    return len(ready)
