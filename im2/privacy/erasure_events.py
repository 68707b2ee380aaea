"""The event rows still in the database that name the people erased, rewritten with their
stand-ins' identifiers (`im2.privacy.erasure`; the lake's copies are rewritten after commit by
`im2.privacy.lake_rewrite`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from im2.privacy.erasure_plan import LIKE_CHUNK, Counts, Owners, Remap, chunks
from im2.privacy.erasure_rows import update_each
from im2.privacy.inventory import EVENTS_TABLE, table_of
from im2.privacy.scrub import PARTICIPANT_PROPERTIES, scrubber


def named_in_event(
    actor_id: Any, referrer: Any, properties: Any, owners: Owners, actors: Mapping[str, int]
) -> set[int]:
    """Which of the group's people an event names (the keys `scrub.scrub_event` replaces)."""
    named: set[int] = set()
    if actor_id is not None and actor_id in actors:
        named.add(actors[actor_id])
    if referrer is not None and referrer in owners.codes:
        named.add(owners.codes[referrer])
    props = json.loads(properties) if isinstance(properties, str) and properties else properties
    if isinstance(props, dict):
        for key, value in props.items():
            if key in PARTICIPANT_PROPERTIES and str(value).isdigit():
                whose = owners.participants.get(int(value))
                if whose is not None and str(int(value)) == str(value):
                    named.add(whose)
                    continue
            if isinstance(value, str) and value in owners.codes:
                named.add(owners.codes[value])
    return named


def rewrite_db_events(
    session: Session,
    *,
    workspace_id: int,
    remaps: list[Remap],
    owners: Owners,
    counts: list[Counts],
) -> list[list[int]]:
    """The event rows still in the database that name one of the people (their own, by
    actor, and others' that carry their share code or participant id), rewritten with the
    group's old → new identifiers in a few scans. Returns each person's changed event ids."""
    events = table_of(EVENTS_TABLE)
    merged: dict[str, Any] = {"actors": {}, "codes": {}, "participants": {}}
    actors: dict[str, int] = {}
    for i, remap in enumerate(remaps):
        pending = remap.pending()
        for part in ("actors", "codes", "participants"):
            merged[part].update(pending[part])
        actors.update(dict.fromkeys(pending["actors"], i))
    terms: list[ColumnElement[bool]] = []
    for chunk in chunks(sorted(merged["actors"])):
        terms.append(events.c.actor_id.in_(chunk))
    for chunk in chunks(sorted(merged["codes"])):
        terms.append(events.c.referrer.in_(chunk))
    as_text = cast(events.c.properties, String)
    words = [str(p) for p in merged["participants"]] + sorted(merged["codes"])
    # Few terms per statement: SQLite parses a long OR as a tree of that depth.
    for chunk in chunks(words, LIKE_CHUNK):
        terms.append(or_(*(as_text.contains(w) for w in chunk)))
    candidates: dict[int, Any] = {}
    for term in terms:
        for row in session.execute(
            select(events.c.id, events.c.actor_id, events.c.referrer, events.c.properties).where(
                events.c.workspace_id == workspace_id, term
            )
        ):
            candidates[int(row[0])] = row
    scrub = scrubber(merged)
    changed: list[tuple[Any, dict[str, Any]]] = []
    ids: list[list[int]] = [[] for _ in remaps]
    for event_id in sorted(candidates):
        _id, actor_id, referrer, properties = candidates[event_id]
        new_actor, new_referrer, new_props, hit = scrub(actor_id, referrer, properties)
        if not hit:
            continue
        changed.append(
            (event_id, {"actor_id": new_actor, "referrer": new_referrer, "properties": new_props})
        )
        for i in named_in_event(actor_id, referrer, properties, owners, actors):
            counts[i].events += 1
            ids[i].append(event_id)
    for chunk in chunks(changed):
        update_each(session, events, chunk)
    return ids
