"""The personal-data inventory: every table and column that holds personal data or refers to a
person, gathered from the declarations (`im2.types.PeopleData`) that each activity format
(`ActivityFormat.people_data`) and each domain (`<domain>/schemas.py`, `PEOPLE_DATA`) makes, and
the reads a data-subject request needs on top of it: every row about one person
(`person_rows`) and their events, from the database tail and the Parquet lake
(`person_events`). Erasure (`im2.privacy.erasure`) walks the same catalogue.

Tables are reached through `im2.db.Base.metadata` by name (never another domain's models), so a
domain that adds a table only declares it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import String, Table, and_, cast, false, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from im2.activities.registry import FORMATS
from im2.analytics.lake import get_mark, rows_to_arrow
from im2.analytics.lake_fs import object_lake_of, register_duckdb
from im2.analytics.lake_layout import events_of_actors as lake_events_of_actors
from im2.analytics.query import committed_files
from im2.db import Base
from im2.domains import import_domain_modules
from im2.events.service import EVENT_ARROW_SCHEMA
from im2.people.schemas import IdentityKind
from im2.privacy.mentions import MENTIONS_TABLE, matched_rows
from im2.types import PeopleData

# The tables erasure and the export treat as the root of a person: their own rows, read first.
PEOPLE_TABLE = "people"
PARTICIPANTS_TABLE = "participants"
IDENTITIES_TABLE = "person_identities"
EVENTS_TABLE = "events"
VISITOR_PREFIX = "d:"  # an event's actor id for a device (im2.participation.schemas)


@dataclass(frozen=True, slots=True)
class Declared:
    """One declaration and where it comes from ("format:poll", "domain:participation")."""

    source: str
    data: PeopleData


@lru_cache(maxsize=1)
def catalogue() -> tuple[Declared, ...]:
    """Every declaration, formats first then domains in name order. Importing every domain's
    `models` first puts each table in `Base.metadata` (the migrations do the same)."""
    import_domain_modules("models")
    found = [Declared(f"format:{kind.value}", data) for kind, data in FORMATS.people_data()]
    for module in import_domain_modules("schemas"):
        declared = getattr(module, "PEOPLE_DATA", ())
        domain = module.__name__.removeprefix("im2.").removesuffix(".schemas")
        found.extend(Declared(f"domain:{domain}", data) for data in declared)
    return tuple(found)


def declared_tables() -> dict[str, list[PeopleData]]:
    """The declarations by table (a table may be declared in parts, by several domains)."""
    tables: dict[str, list[PeopleData]] = {}
    for item in catalogue():
        tables.setdefault(item.data.table, []).append(item.data)
    return tables


def table_of(name: str) -> Table:
    table = Base.metadata.tables.get(name)
    if table is None:
        raise LookupError(f"people data declares a table that does not exist: {name}")
    return table


@dataclass(frozen=True, slots=True)
class PersonKeys:
    """What identifies one person in the workspace's rows and events."""

    workspace_id: int
    person_id: int
    # The person and those merged into them (merge rows, undo history).
    person_ids: frozenset[int]
    participant_ids: frozenset[int]
    device_ids: frozenset[str]
    share_codes: frozenset[str]

    @property
    def actor_ids(self) -> frozenset[str]:
        """Their events' `actor_id`s: participant ids and "d:<device>"."""
        return frozenset(str(p) for p in self.participant_ids) | frozenset(
            VISITOR_PREFIX + d for d in self.device_ids
        )


def person_keys(session: Session, *, workspace_id: int, person_id: int) -> PersonKeys | None:
    """The person's ids, devices and share codes, or None when the workspace has no such
    person (another workspace's person is None as well)."""
    catalogue()
    people = table_of(PEOPLE_TABLE)
    found = session.execute(
        select(people.c.id).where(people.c.id == person_id, people.c.workspace_id == workspace_id)
    ).first()
    if found is None:
        return None
    person_ids = {person_id} | set(
        session.scalars(
            select(people.c.id).where(
                people.c.workspace_id == workspace_id, people.c.merged_into_id == person_id
            )
        )
    )
    identities = table_of(IDENTITIES_TABLE)
    participant_ids: set[int] = set()
    devices: set[str] = set()
    for kind, value in session.execute(
        select(identities.c.kind, identities.c.value).where(
            identities.c.workspace_id == workspace_id, identities.c.person_id.in_(person_ids)
        )
    ):
        if kind == IdentityKind.PARTICIPANT.value and value.isdigit():
            participant_ids.add(int(value))
        elif kind == IdentityKind.DEVICE.value:
            devices.add(value)
    participants = table_of(PARTICIPANTS_TABLE)
    if participant_ids:
        devices.update(
            session.scalars(
                select(participants.c.device_id).where(
                    participants.c.workspace_id == workspace_id,
                    participants.c.id.in_(participant_ids),
                )
            )
        )
    links = table_of("share_links")
    codes = (
        set(
            session.scalars(
                select(links.c.code).where(
                    links.c.workspace_id == workspace_id,
                    links.c.participant_id.in_(participant_ids),
                )
            )
        )
        if participant_ids
        else set()
    )
    return PersonKeys(
        workspace_id=workspace_id,
        person_id=person_id,
        person_ids=frozenset(person_ids),
        participant_ids=frozenset(participant_ids),
        device_ids=frozenset(devices),
        share_codes=frozenset(codes),
    )


def own_clause(table: Table, data: PeopleData, keys: PersonKeys) -> ColumnElement[bool]:
    """The rows of `table` that `data` says refer to the person (without `via`)."""
    terms: list[ColumnElement[bool]] = []
    if keys.participant_ids:
        terms.extend(table.c[c].in_(keys.participant_ids) for c in data.participant_columns)
    terms.extend(table.c[c].in_(keys.person_ids) for c in data.person_columns)
    if keys.device_ids:
        terms.extend(table.c[c].in_(keys.device_ids) for c in data.device_columns)
    return or_(*terms) if terms else false()


def row_clause(table_name: str, keys: PersonKeys) -> ColumnElement[bool]:
    """The rows of a declared table about the person, through any of its declarations (and
    their parent rows for a `via`), within the person's workspace where the table has one."""
    table = table_of(table_name)
    terms: list[ColumnElement[bool]] = []
    for data in declared_tables().get(table_name, []):
        terms.append(own_clause(table, data, keys))
        if data.via is not None:
            column, target = data.via.split("->")
            parent_name, parent_column = target.split(".")
            if parent_name == EVENTS_TABLE:
                events = table_of(EVENTS_TABLE)
                parent = select(events.c.id).where(
                    events.c.workspace_id == keys.workspace_id,
                    events.c.actor_id.in_(keys.actor_ids),
                )
            else:
                parent_table = table_of(parent_name)
                parent = select(parent_table.c[parent_column]).where(row_clause(parent_name, keys))
            terms.append(table.c[column].in_(parent))
    clause = or_(*terms) if terms else false()
    if "workspace_id" in table.c:
        clause = and_(table.c.workspace_id == keys.workspace_id, clause)
    return clause


def person_tables() -> list[str]:
    """The declared tables that `person_rows` reads: every one but the event log (read by
    `person_events`, from the lake as well)."""
    return [name for name in declared_tables() if name != EVENTS_TABLE]


def person_rows(session: Session, *, workspace_id: int, person_id: int) -> dict[str, list[dict]]:  # type: ignore[type-arg]
    """Every row about the person, table by table (tables without one are left out), reached
    through their person ids, participant ids, device ids and the declared parent rows.

    An unknown person (or another workspace's) gives {}: the caller answers 404."""
    keys = person_keys(session, workspace_id=workspace_id, person_id=person_id)
    if keys is None:
        return {}
    found: dict[str, list[dict[str, Any]]] = {}
    for name in person_tables():
        table = table_of(name)
        order = list(table.primary_key.columns) or list(table.c)[:1]
        rows = session.execute(select(table).where(row_clause(name, keys)).order_by(*order))
        listed = [dict(row._mapping) for row in rows]
        if listed:
            found[name] = listed
    # Their public posts the brand collected: matched to their social accounts, not declared
    # by a column (`im2.privacy.mentions`).
    posts = matched_rows(session, workspace_id=workspace_id, person_ids=keys.person_ids)
    if posts:
        found[MENTIONS_TABLE] = posts
    return found


def person_events(
    session: Session, *, workspace_id: int, person_id: int, lake_path: Path
) -> pa.Table:
    """The person's events (their participants' and devices' actions), from the lake up to its
    mark and from the database above it, by id, as `EVENT_ARROW_SCHEMA` (`.to_pylist()` gives
    dicts). An unknown person gives an empty table."""
    keys = person_keys(session, workspace_id=workspace_id, person_id=person_id)
    if keys is None or not keys.actor_ids:
        return EVENT_ARROW_SCHEMA.empty_table()
    return events_of_actors(
        session, workspace_id=workspace_id, actor_ids=keys.actor_ids, lake_path=lake_path
    )


def _event_columns(events: Table) -> list[Any]:
    """The event columns in `EVENT_ARROW_SCHEMA` order, properties as JSON text."""
    return [
        cast(events.c[name], String) if name == "properties" else events.c[name]
        for name in EVENT_ARROW_SCHEMA.names
    ]


def events_of_actors(
    session: Session, *, workspace_id: int, actor_ids: Iterable[str], lake_path: Path
) -> pa.Table:
    import duckdb

    """Events of these actor ids in the workspace: the lake's up to the mark, the database's
    above it."""
    actors = sorted(set(actor_ids))
    mark = get_mark(session)
    parts: list[pa.Table] = []
    files = [f for f, _day in committed_files(lake_path, mark=mark)]
    if files:
        con = duckdb.connect()
        if (remote := object_lake_of(lake_path)) is not None:
            register_duckdb(con, remote)  # an object lake's s3:// names (IM2_LAKE_URL)
        try:
            con.execute("SET TimeZone = 'UTC'")
            # Only the row groups that can hold these actors are read (`lake_layout`).
            parts.append(
                lake_events_of_actors(con, files, workspace_id=workspace_id, actor_ids=actors)
            )
        finally:
            con.close()
    events = table_of(EVENTS_TABLE)
    tail_rows = session.execute(
        select(*_event_columns(events))
        .where(
            events.c.id > mark,
            events.c.workspace_id == workspace_id,
            events.c.actor_id.in_(actors),
        )
        .order_by(events.c.id)
    ).all()
    if tail_rows:
        parts.append(rows_to_arrow([tuple(row) for row in tail_rows]))
    if not parts:
        return EVENT_ARROW_SCHEMA.empty_table()
    return pa.concat_tables(parts)
