"""An erased person's identifiers replaced in events and webhook payloads: the event rows
still in the database (by `im2.privacy.erasure.erase_person`, in its transaction), the lake's
files (by `im2.privacy.lake_rewrite`, after commit) and the deliveries of those events. One
erasure's mapping (`Erasure.lake_pending`): {"actors": {old: new}, "codes": {old: new},
"participants": {"old id": new id}}.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import String, cast, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from im2.privacy.erasure_plan import chunks
from im2.privacy.erasure_rows import update_each
from im2.privacy.inventory import EVENTS_TABLE, declared_tables, table_of

# Event property keys whose value is a participant id (im2's event writers).
PARTICIPANT_PROPERTIES = ("participant", "inviter", "level2", "invitee", "giver", "sharer")


def scrub_event(
    actor_id: str | None,
    referrer: str | None,
    properties: Any,
    *,
    actors: Mapping[str, str],
    codes: Mapping[str, str],
    participants: Mapping[str, int],
) -> tuple[str | None, str | None, Any, bool]:
    """One event with the erased person's identifiers replaced: (actor_id, referrer,
    properties, changed). `properties` is a dict or its JSON text (kept as given)."""
    changed = False
    if actor_id is not None and actor_id in actors:
        actor_id, changed = actors[actor_id], True
    if referrer is not None and referrer in codes:
        referrer, changed = codes[referrer], True
    as_text = isinstance(properties, str)
    props = json.loads(properties) if as_text and properties else properties
    if isinstance(props, dict):
        fixed = dict(props)
        for key, value in props.items():
            if key in PARTICIPANT_PROPERTIES and str(value) in participants:
                fixed[key] = participants[str(value)]
            elif isinstance(value, str) and value in codes:
                fixed[key] = codes[value]
        if fixed != props:
            changed = True
            props = fixed
            if as_text:
                return actor_id, referrer, json.dumps(fixed, ensure_ascii=False), changed
            return actor_id, referrer, fixed, changed
    return actor_id, referrer, properties, changed


def scrubber(pending: Mapping[str, Any]) -> Callable[[Any, Any, Any], tuple[Any, ...]]:
    """`scrub_event` bound to one erasure's old → new identifiers (`Erasure.lake_pending`)."""
    actors = pending.get("actors", {})
    codes = pending.get("codes", {})
    participants = pending.get("participants", {})

    def scrub(actor_id: Any, referrer: Any, properties: Any) -> tuple[Any, ...]:
        return scrub_event(
            actor_id,
            referrer,
            properties,
            actors=actors,
            codes=codes,
            participants=participants,
        )

    return scrub


def rewrite_db_events(
    session: Session, *, workspace_id: int, pending: Mapping[str, Any]
) -> tuple[int, list[int]]:
    """The event rows still in the database (moved or not) that name the erased person: their
    own (by actor) and others' that carry their share code or participant id. Returns (events
    changed, their ids)."""
    events = table_of(EVENTS_TABLE)
    scrub = scrubber(pending)
    actors: Mapping[str, str] = pending.get("actors", {})
    codes: Mapping[str, str] = pending.get("codes", {})
    participants: Mapping[str, int] = pending.get("participants", {})
    terms: list[ColumnElement[bool]] = []
    if actors:
        terms.append(events.c.actor_id.in_(list(actors)))
    if codes:
        terms.append(events.c.referrer.in_(list(codes)))
    text = cast(events.c.properties, String)
    terms.extend(text.contains(str(p)) for p in participants)
    terms.extend(text.contains(c) for c in codes)
    if not terms:
        return 0, []
    rows = session.execute(
        select(events.c.id, events.c.actor_id, events.c.referrer, events.c.properties).where(
            events.c.workspace_id == workspace_id, or_(*terms)
        )
    ).all()
    changed_ids: list[int] = []
    for event_id, actor_id, referrer, properties in rows:
        new_actor, new_referrer, new_props, changed = scrub(actor_id, referrer, properties)
        if changed:
            session.execute(
                update(events)
                .where(events.c.id == event_id)
                .values(actor_id=new_actor, referrer=new_referrer, properties=new_props)
            )
            changed_ids.append(int(event_id))
    return len(changed_ids), changed_ids


def scrub_deliveries(session: Session, *, event_ids: list[int], pending: Mapping[str, Any]) -> int:
    """Webhook deliveries of these events: their payload rewritten as the event was, and the
    receiver's last response (which may echo it) cleared. Returns how many."""
    return scrub_group_deliveries(session, event_ids=[event_ids], pendings=[pending])[0]


def scrub_group_deliveries(
    session: Session, *, event_ids: list[list[int]], pendings: list[Mapping[str, Any]]
) -> list[int]:
    """`scrub_deliveries` of several erasures at once (a group of people erased together):
    per erasure its events' ids and its old → new identifiers. One read per 1,000 events and one
    executemany UPDATE per 500 deliveries for the whole group; a delivery of an event that names
    several of them is scrubbed by each in turn, as one pass per erasure would. Returns how many
    deliveries each erasure scrubbed."""
    counts = [0] * len(pendings)
    whose: dict[int, list[int]] = {}
    for i, ids in enumerate(event_ids):
        for event_id in ids:
            whose.setdefault(int(event_id), []).append(i)
    if not whose or "webhook_deliveries" not in declared_tables():
        return counts
    deliveries = table_of("webhook_deliveries")
    maps = [(p.get("actors", {}), p.get("codes", {}), p.get("participants", {})) for p in pendings]
    changes: list[tuple[Any, dict[str, Any]]] = []
    for chunk in chunks(sorted(whose), 1000):
        rows = session.execute(
            select(deliveries.c.id, deliveries.c.event_id, deliveries.c.payload)
            .where(deliveries.c.event_id.in_(chunk))
            .order_by(deliveries.c.id)
        ).all()
        for delivery_id, event_id, payload in rows:
            for i in whose[int(event_id)]:
                payload = _scrub_payload(payload, *maps[i])
                counts[i] += 1
            changes.append((delivery_id, {"payload": payload, "last_response": None}))
    for chunk in chunks(changes):
        update_each(session, deliveries, chunk)
    return counts


def _scrub_payload(
    payload: Any,
    actors: Mapping[str, str],
    codes: Mapping[str, str],
    participants: Mapping[str, int],
) -> dict[str, Any]:
    body = dict(payload or {})
    actor = dict(body.get("actor") or {})
    new_actor, new_ref, new_props, _changed = scrub_event(
        actor.get("id"),
        body.get("referrer"),
        body.get("properties"),
        actors=actors,
        codes=codes,
        participants=participants,
    )
    actor["id"] = new_actor
    body.update(actor=actor, referrer=new_ref, properties=new_props)
    return body
