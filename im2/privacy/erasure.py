"""Erasure of one person, everywhere the inventory says their data lives (docs/privacy.md).

"Anonymise where aggregates must stay true": the person's rows that feed counts (ballots,
entries, ledger lines, conversions …) stay, moved to a fresh anonymous stand-in (a new
participant per former participant, with a random device id, under a new person with no
contact identity), with their personal columns cleared, their identifiers replaced by fresh
random ones and their media deleted. Their share codes get fresh values everywhere at once, so
the share tree keeps its shape. Their events get the stand-in's actor ids. No mapping from old
to new is kept once the lake is rewritten: the stand-in is anonymous, not pseudonymous.

The database part runs in the caller's transaction (`erase_person`); the lake part
(`im2.privacy.lake_rewrite`) runs after commit from the durable erasure record.

Several people at once (`erase_people`, retention's path): one set of statements per table for
the whole group (`UPDATE … WHERE id IN (…)`, old → new from a temporary table), with the same
rows, values, counts and records as erasing each alone in the same order
(tests/privacy/test_bulk_erasure.py compares the two); the lake rewrite then treats all
pending records in one pass per file.
"""

from __future__ import annotations

import json
import logging
import secrets
import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    cast,
    delete,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from im2.db import Base
from im2.errors import NotFound
from im2.people.schemas import IdentityKind
from im2.privacy.erasures.models import Erasure
from im2.privacy.inventory import (
    EVENTS_TABLE,
    IDENTITIES_TABLE,
    PARTICIPANTS_TABLE,
    PEOPLE_TABLE,
    VISITOR_PREFIX,
    PersonKeys,
    declared_tables,
    row_clause,
    table_of,
)
from im2.privacy.mentions import MENTIONS_TABLE, blank_matched
from im2.privacy.scrub import PARTICIPANT_PROPERTIES, scrub_deliveries, scrubber
from im2.privacy.tracking import forget_requests
from im2.types import PeopleData

log = logging.getLogger("im2.privacy")

# The people domain's own tables: a person's profile, deleted with them (never anonymised).
PROFILE_TABLES = ("person_identities", "person_merges", "person_tags", "person_attributes")
DEVICE_CHARS = string.ascii_letters + string.digits
CODE_CHARS = string.ascii_lowercase + string.digits
STAND_IN_CONSENT = "erased"
# Ids per IN list, LIKE terms per statement (SQLite's limits on
# bound values and on expression depth).
CHUNK = 500
LIKE_CHUNK = 100


@dataclass(frozen=True, slots=True)
class ErasureReport:
    workspace_id: int
    person_id: int
    # True when the person had been erased already: nothing was done this time.
    already_erased: bool
    erased_at: datetime
    erasure_id: int
    rows_deleted: dict[str, int] = field(default_factory=dict)
    rows_anonymised: dict[str, int] = field(default_factory=dict)
    media_deleted: int = 0
    events_rewritten: int = 0
    webhook_deliveries_scrubbed: int = 0
    # Their data-subject requests, kept with no person (`im2.privacy.tracking.forget_requests`).
    requests_unlinked: int = 0
    # The lake still holds their events under the old ids until the rewrite runs.
    lake_pending: bool = False


@dataclass
class _Remap:
    """Old → new identifiers of one erasure (in memory, and in the record until the lake is
    rewritten)."""

    participants: dict[int, int] = field(default_factory=dict)
    devices: dict[str, str] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)
    stand_in_person: int = 0

    def actors(self) -> dict[str, str]:
        found = {str(old): str(new) for old, new in self.participants.items()}
        found.update(
            {VISITOR_PREFIX + old: VISITOR_PREFIX + new for old, new in self.devices.items()}
        )
        return found

    def pending(self) -> dict[str, Any]:
        return {
            "actors": self.actors(),
            "codes": dict(self.codes),
            "participants": {str(k): v for k, v in self.participants.items()},
        }


def fresh_value(old: str, chars: str, length: int) -> str:
    """A fresh random identifier replacing `old` (a device id, a share code, an identity
    value). `old` plays no part in the value; it is passed so that a test can swap this
    function for a reproducible one and compare two erasures of the same data."""
    del old
    return "".join(secrets.choice(chars) for _ in range(length))


def _cleared(table: Table, column: str) -> Any:
    """The value a cleared column gets: NULL where allowed, else an empty value of its type."""
    col = table.c[column]
    if col.nullable:
        return None
    if isinstance(col.type, JSON):
        return {}
    if isinstance(col.type, Integer):
        return 0
    return ""


def _fresh_identity(table: Table, column: str, old: Any) -> Any:
    if old is None:
        return None
    col = table.c[column]
    if isinstance(col.type, JSON):
        return [] if isinstance(old, list) else {}
    length = getattr(col.type, "length", None) or 32
    return "x" + fresh_value(str(old), CODE_CHARS, max(8, min(len(str(old)), length) - 1))


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def inactive_clause(people: Table, before: datetime) -> ColumnElement[bool]:
    """People not seen since `before` (or, never seen, created before it): retention's test."""
    return or_(
        people.c.last_seen_at < before,
        and_(people.c.last_seen_at.is_(None), people.c.created_at < before),
    )


def erase_person(
    session: Session,
    *,
    workspace_id: int,
    person_id: int,
    now: datetime,
    lake_path: Path,
    media_path: Path,
    reason: str,
) -> ErasureReport:
    """Erase the person in the caller's transaction; the caller commits, then runs
    `im2.privacy.lake_rewrite.rewrite_pending` (or leaves it to the `privacy_lake_rewrite`
    job). Media files are deleted before the commit: a rolled-back erasure may have lost
    pictures of a person who asked to be erased, never the reverse.

    Locks the person's row first: two erasures at once do the work once, the second returns
    `already_erased`. An erased person gives `already_erased`; a person the workspace never
    had raises NotFound."""
    reports = erase_people(
        session,
        workspace_id=workspace_id,
        person_ids=[person_id],
        now=now,
        lake_path=lake_path,
        media_path=media_path,
        reason=reason,
    )
    if not reports:
        raise NotFound("No such person in this workspace.")
    return reports[0]


def erase_people(
    session: Session,
    *,
    workspace_id: int,
    person_ids: Sequence[int],
    now: datetime,
    lake_path: Path,
    media_path: Path,
    reason: str,
    inactive_since: datetime | None = None,
) -> list[ErasureReport]:
    """Erase several people in the caller's transaction with one set of statements per table
    (not one pass per person): the same rows, values and records as erasing each alone, in
    the order given (`erase_person` is this with one person). One report per person erased
    or erased before; people the workspace does not have are left out.

    With `inactive_since` (retention), a person is erased only if still inactive under their
    locked row: last seen (or, never seen, created) before it, and no event of theirs in the
    database from it on. The others are kept, and left out of the reports.

    Locks the people's rows, then their participants' rows: a concurrent erasure of the same
    person waits and then finds them erased; an action of theirs that committed first is
    erased with them (or, with `inactive_since`, keeps them)."""
    del lake_path  # the lake part runs after commit, from the records (`lake_rewrite`)
    wanted = list(dict.fromkeys(int(p) for p in person_ids))
    if not wanted:
        return []
    people = table_of(PEOPLE_TABLE)
    locked: dict[int, Any] = {}
    for chunk in _chunks(sorted(wanted)):
        for row in session.execute(
            select(people.c.id, people.c.last_seen_at, people.c.created_at)
            .where(people.c.id.in_(chunk), people.c.workspace_id == workspace_id)
            .order_by(people.c.id)
            .with_for_update()
        ):
            locked[int(row.id)] = row
    reports: dict[int, ErasureReport] = {}
    missing = [p for p in wanted if p not in locked]
    for chunk in _chunks(missing):
        for done in session.scalars(
            select(Erasure).where(
                Erasure.workspace_id == workspace_id, Erasure.person_id.in_(chunk)
            )
        ):
            reports[done.person_id] = ErasureReport(
                workspace_id=workspace_id,
                person_id=done.person_id,
                already_erased=True,
                erased_at=done.erased_at,
                erasure_id=done.id,
                lake_pending=done.lake_pending is not None,
            )
    todo = [p for p in wanted if p in locked]
    if inactive_since is not None:
        todo = [p for p in todo if _was_inactive(locked[p], inactive_since)]
    subjects = _people_keys(session, workspace_id=workspace_id, person_ids=todo)
    if inactive_since is not None:
        active = _acted_since(
            session, workspace_id=workspace_id, subjects=subjects, since=inactive_since
        )
        subjects = [k for k in subjects if k.person_id not in active]
    while subjects:
        group = _disjoint_prefix(subjects)
        for report in _erase_group(
            session, subjects=group, now=now, media_path=media_path, reason=reason
        ):
            reports[report.person_id] = report
        rest = [k.person_id for k in subjects[len(group) :]]
        # People who shared an id with someone just erased: their keys again, as after
        # that erasure (what erasing them one by one would have found).
        subjects = _people_keys(session, workspace_id=workspace_id, person_ids=rest)
    return [reports[p] for p in wanted if p in reports]


def _was_inactive(row: Any, since: datetime) -> bool:
    seen = row.last_seen_at if row.last_seen_at is not None else row.created_at
    return bool(seen < since)


def _acted_since(
    session: Session, *, workspace_id: int, subjects: list[PersonKeys], since: datetime
) -> set[int]:
    """The people with an event in the database at or after `since` (acted since the
    candidates were chosen)."""
    events = table_of(EVENTS_TABLE)
    owner = {a: k.person_id for k in subjects for a in k.actor_ids}
    found: set[int] = set()
    for chunk in _chunks(sorted(owner)):
        for actor in session.scalars(
            select(events.c.actor_id)
            .where(
                events.c.workspace_id == workspace_id,
                events.c.actor_id.in_(chunk),
                events.c.occurred_at >= since,
            )
            .distinct()
        ):
            found.add(owner[actor])
    return found


def _people_keys(
    session: Session, *, workspace_id: int, person_ids: Sequence[int]
) -> list[PersonKeys]:
    """`inventory.person_keys` of several people in a few statements, in the order given
    (people the workspace does not have are left out)."""
    if not person_ids:
        return []
    people = table_of(PEOPLE_TABLE)
    identities = table_of(IDENTITIES_TABLE)
    participants = table_of(PARTICIPANTS_TABLE)
    links = table_of("share_links")
    ids = list(dict.fromkeys(person_ids))
    present: set[int] = set()
    merged: dict[int, set[int]] = {p: {p} for p in ids}
    for chunk in _chunks(ids):
        present.update(
            int(p)
            for p in session.scalars(
                select(people.c.id).where(
                    people.c.id.in_(chunk), people.c.workspace_id == workspace_id
                )
            )
        )
        for pid, into in session.execute(
            select(people.c.id, people.c.merged_into_id).where(
                people.c.workspace_id == workspace_id, people.c.merged_into_id.in_(chunk)
            )
        ):
            merged[int(into)].add(int(pid))
    ids = [p for p in ids if p in present]
    whose = {member: p for p in ids for member in merged[p]}
    parts: dict[int, set[int]] = {p: set() for p in ids}
    devices: dict[int, set[str]] = {p: set() for p in ids}
    for chunk in _chunks(sorted(whose)):
        for person, kind, value in session.execute(
            select(identities.c.person_id, identities.c.kind, identities.c.value).where(
                identities.c.workspace_id == workspace_id, identities.c.person_id.in_(chunk)
            )
        ):
            owner = whose[int(person)]
            if kind == IdentityKind.PARTICIPANT.value and value.isdigit():
                parts[owner].add(int(value))
            elif kind == IdentityKind.DEVICE.value:
                devices[owner].add(value)
    part_owner = {part: p for p in ids for part in parts[p]}
    codes: dict[int, set[str]] = {p: set() for p in ids}
    for chunk in _chunks(sorted(part_owner)):
        for part, device in session.execute(
            select(participants.c.id, participants.c.device_id).where(
                participants.c.workspace_id == workspace_id, participants.c.id.in_(chunk)
            )
        ):
            devices[part_owner[int(part)]].add(device)
        for part, code in session.execute(
            select(links.c.participant_id, links.c.code).where(
                links.c.workspace_id == workspace_id, links.c.participant_id.in_(chunk)
            )
        ):
            codes[part_owner[int(part)]].add(code)
    return [
        PersonKeys(
            workspace_id=workspace_id,
            person_id=p,
            person_ids=frozenset(merged[p]),
            participant_ids=frozenset(parts[p]),
            device_ids=frozenset(devices[p]),
            share_codes=frozenset(codes[p]),
        )
        for p in ids
    ]


def _disjoint_prefix(subjects: list[PersonKeys]) -> list[PersonKeys]:
    """The longest run of people from the start that share no id with one another (people who
    share one are erased one after the other, as alone)."""
    seen: set[Any] = set()
    group: list[PersonKeys] = []
    for keys in subjects:
        own = (
            {("person", p) for p in keys.person_ids}
            | {("participant", p) for p in keys.participant_ids}
            | {("device", d) for d in keys.device_ids}
            | {("code", c) for c in keys.share_codes}
        )
        if group and own & seen:
            break
        seen |= own
        group.append(keys)
    return group


@dataclass
class _Owners:
    """Which person of a group each old identifier belongs to (by position in the group)."""

    persons: dict[int, int] = field(default_factory=dict)
    participants: dict[int, int] = field(default_factory=dict)
    devices: dict[str, int] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, subjects: list[PersonKeys]) -> _Owners:
        owners = cls()
        for i, keys in enumerate(subjects):
            owners.persons.update(dict.fromkeys(keys.person_ids, i))
            owners.participants.update(dict.fromkeys(keys.participant_ids, i))
            owners.devices.update(dict.fromkeys(keys.device_ids, i))
            owners.codes.update(dict.fromkeys(keys.share_codes, i))
        return owners

    def of_column(self, data: PeopleData, column: str) -> dict[Any, int]:
        if column in data.participant_columns:
            return self.participants
        if column in data.person_columns:
            return self.persons
        if column in data.device_columns:
            return self.devices
        return {}


def _union(subjects: list[PersonKeys]) -> PersonKeys:
    return PersonKeys(
        workspace_id=subjects[0].workspace_id,
        person_id=subjects[0].person_id,
        person_ids=frozenset().union(*(k.person_ids for k in subjects)),
        participant_ids=frozenset().union(*(k.participant_ids for k in subjects)),
        device_ids=frozenset().union(*(k.device_ids for k in subjects)),
        share_codes=frozenset().union(*(k.share_codes for k in subjects)),
    )


def _erase_group(
    session: Session,
    *,
    subjects: list[PersonKeys],
    now: datetime,
    media_path: Path,
    reason: str,
) -> list[ErasureReport]:
    """Erase people who share no id, in one set of statements per table; per person the same
    rows, values, counts and record as erasing them one by one in this order."""
    workspace_id = subjects[0].workspace_id
    keys = _union(subjects)
    owners = _Owners.of(subjects)
    participants = table_of(PARTICIPANTS_TABLE)
    for chunk in _chunks(sorted(keys.participant_ids)):
        session.execute(
            select(participants.c.id).where(participants.c.id.in_(chunk)).with_for_update()
        ).all()
    remaps, found_parts = _stand_ins(session, subjects=subjects, now=now)
    counts = [_Counts() for _ in subjects]
    # The people's data-subject requests stay as the brand's record, linked to nobody (never
    # to a stand-in), whichever path erases them; their export files go like their media.
    _forget_requests(session, keys=keys, owners=owners, counts=counts, media_path=media_path)
    tables = declared_tables()
    # Which rows are whose (owned) and which only refer to them, before anything moves.
    owned = {
        name: _owned_by(session, name, decls, keys, owners)
        for name, decls in tables.items()
        if name not in (EVENTS_TABLE, PEOPLE_TABLE, PARTICIPANTS_TABLE, *PROFILE_TABLES)
    }
    for name, rows in owned.items():
        decls = tables[name]
        if not rows:
            continue
        table = table_of(name)
        pks = sorted(rows)
        removed = _delete_media(session, table, decls, rows, media_path)
        for i, n in removed.items():
            counts[i].media += n
        if any(d.on_erase == "delete" for d in decls):
            pk = next(iter(table.primary_key.columns))
            for chunk in _chunks(pks):
                session.execute(delete(table).where(pk.in_(chunk)))
            tally = "deleted"
        else:
            _anonymise_owned(session, table, decls, pks)
            tally = "anonymised"
        for i in rows.values():
            where = getattr(counts[i], tally)
            where[name] = where.get(name, 0) + 1
    # References from anyone's rows: participant, person, device and share-code columns.
    moves = _Moves.of(subjects, remaps)
    _fill_maps(session, moves)
    for name, decls in tables.items():
        if name in (EVENTS_TABLE, PEOPLE_TABLE, *PROFILE_TABLES):
            continue
        if any(d.on_erase == "delete" for d in decls):
            continue
        table = table_of(name)
        for data in decls:
            _remap_references(session, table, data, keys, moves)
    _empty_maps(session)
    event_ids = _rewrite_db_events(
        session, workspace_id=workspace_id, remaps=remaps, owners=owners, counts=counts
    )
    for i, remap in enumerate(remaps):
        counts[i].deliveries = scrub_deliveries(
            session, event_ids=event_ids[i], pending=remap.pending()
        )
    # Their public posts the brand collected, matched to their social accounts (identities,
    # deleted next): blanked, the counts kept (`im2.privacy.mentions`).
    for i, person in enumerate(subjects):
        blanked = blank_matched(session, workspace_id=workspace_id, person_ids=person.person_ids)
        if blanked:
            counts[i].anonymised[MENTIONS_TABLE] = blanked
    # The people themselves: profile rows, former participants, the person rows.
    for name in PROFILE_TABLES:
        if name in tables:
            _delete_profile(session, name, tables[name], keys, owners, counts)
    for chunk in _chunks(sorted(keys.participant_ids)):
        session.execute(delete(participants).where(participants.c.id.in_(chunk)))
    for i, n in enumerate(found_parts):
        if subjects[i].participant_ids:
            counts[i].deleted[PARTICIPANTS_TABLE] = n
    people = table_of(PEOPLE_TABLE)
    for chunk in _chunks(sorted(keys.person_ids)):
        session.execute(
            update(people).where(people.c.merged_into_id.in_(chunk)).values(merged_into_id=None)
        )
        session.execute(delete(people).where(people.c.id.in_(chunk)))
    records = []
    for i, person in enumerate(subjects):
        count, remap = counts[i], remaps[i]
        count.deleted[PEOPLE_TABLE] = len(person.person_ids)
        records.append(
            Erasure(
                workspace_id=workspace_id,
                person_id=person.person_id,
                reason=reason[:64],
                erased_at=now,
                summary={
                    "deleted": count.deleted,
                    "anonymised": count.anonymised,
                    "media_deleted": count.media,
                    "events_rewritten": count.events,
                    "webhook_deliveries_scrubbed": count.deliveries,
                    "requests_unlinked": count.requests,
                },
                lake_pending=remap.pending() if (remap.actors() or remap.codes) else None,
                lake_done_at=None,
            )
        )
    # One flush: the ORM inserts a mapper's new rows in the order they were added (one
    # multi-row INSERT … RETURNING where the database allows), so ids follow the people's order.
    session.add_all(records)
    session.flush()
    if len(subjects) == 1:
        log.info("privacy: erased person %s of workspace %s", subjects[0].person_id, workspace_id)
    else:
        log.info("privacy: erased %s people of workspace %s", len(subjects), workspace_id)
    return [
        ErasureReport(
            workspace_id=workspace_id,
            person_id=person.person_id,
            already_erased=False,
            erased_at=now,
            erasure_id=record.id,
            rows_deleted=dict(counts[i].deleted),
            rows_anonymised=dict(counts[i].anonymised),
            media_deleted=counts[i].media,
            events_rewritten=counts[i].events,
            webhook_deliveries_scrubbed=counts[i].deliveries,
            requests_unlinked=counts[i].requests,
            lake_pending=record.lake_pending is not None,
        )
        for i, (person, record) in enumerate(zip(subjects, records, strict=True))
    ]


@dataclass
class _Counts:
    deleted: dict[str, int] = field(default_factory=dict)
    anonymised: dict[str, int] = field(default_factory=dict)
    media: int = 0
    events: int = 0
    deliveries: int = 0
    requests: int = 0


@dataclass(frozen=True, slots=True)
class _Moves:
    """Old → new of the whole group, by kind of column."""

    participants: dict[int, int]
    persons: dict[int, int]
    devices: dict[str, str]
    codes: dict[str, str]

    @classmethod
    def of(cls, subjects: list[PersonKeys], remaps: list[_Remap]) -> _Moves:
        moves = cls({}, {}, {}, {})
        for keys, remap in zip(subjects, remaps, strict=True):
            moves.participants.update(remap.participants)
            moves.persons.update(dict.fromkeys(keys.person_ids, remap.stand_in_person))
            moves.devices.update(remap.devices)
            moves.codes.update(remap.codes)
        return moves


def _forget_requests(
    session: Session,
    *,
    keys: PersonKeys,
    owners: _Owners,
    counts: list[_Counts],
    media_path: Path,
) -> None:
    if "privacy_requests" not in Base.metadata.tables:
        return
    requests = table_of("privacy_requests")
    files: dict[int, list[Path]] = {}
    for chunk in _chunks(sorted(keys.person_ids)):
        for person, path in session.execute(
            select(requests.c.person_id, requests.c.export_path).where(
                requests.c.workspace_id == keys.workspace_id, requests.c.person_id.in_(chunk)
            )
        ):
            i = owners.persons[int(person)]
            counts[i].requests += 1
            if path:
                files.setdefault(i, []).append(media_path / path)
    forget_requests(session, workspace_id=keys.workspace_id, person_ids=keys.person_ids)
    session.flush()
    for i, found in files.items():
        counts[i].media += _unlink(found)


def _stand_ins(
    session: Session, *, subjects: list[PersonKeys], now: datetime
) -> tuple[list[_Remap], list[int]]:
    """Per person a new person, and per former participant a new participant that keeps what
    counts (when they came, from which campaign and channel, who referred them) and nothing
    that identifies; fresh device ids and share codes. Returns the remaps and how many
    participant rows each person had."""
    people = table_of(PEOPLE_TABLE)
    participants = table_of(PARTICIPANTS_TABLE)
    identities = table_of(IDENTITIES_TABLE)
    workspace_id = subjects[0].workspace_id
    remaps = [_Remap() for _ in subjects]
    new_people = session.execute(
        insert(people).returning(people.c.id, sort_by_parameter_order=True),
        [
            {
                "workspace_id": workspace_id,
                "created_at": now,
                "several_actors": len(k.participant_ids) > 1 or len(k.device_ids) > 1,
            }
            for k in subjects
        ],
    ).scalars()
    for remap, new in zip(remaps, new_people, strict=True):
        remap.stand_in_person = int(new)
    owner = {part: i for i, k in enumerate(subjects) for part in k.participant_ids}
    old_rows: list[list[dict[str, Any]]] = [[] for _ in subjects]
    for chunk in _chunks(sorted(owner)):
        for row in session.execute(select(participants).where(participants.c.id.in_(chunk))):
            values = dict(row._mapping)
            old_rows[owner[values["id"]]].append(values)
    kept = ("workspace_id", "consent_at", "created_at", "first_campaign_id", "first_channel")
    inserts: list[dict[str, Any]] = []
    olds: list[tuple[int, int]] = []
    for i, rows in enumerate(old_rows):
        rows.sort(key=lambda r: r["id"])
        for old in rows:
            device = fresh_value(old["device_id"], DEVICE_CHARS, 32)
            remaps[i].devices[old["device_id"]] = device
            inserts.append(
                {
                    **{name: old[name] for name in kept},
                    "referred_by": old["referred_by"],
                    "device_id": device,
                    "consent_version": STAND_IN_CONSENT,
                }
            )
            olds.append((i, old["id"]))
    if inserts:
        new_parts = session.execute(
            insert(participants).returning(participants.c.id, sort_by_parameter_order=True),
            inserts,
        ).scalars()
        for (i, old_id), new in zip(olds, new_parts, strict=True):
            remaps[i].participants[old_id] = int(new)
    links: list[dict[str, Any]] = []
    for keys, remap in zip(subjects, remaps, strict=True):
        for device in sorted(keys.device_ids - set(remap.devices)):
            remap.devices[device] = fresh_value(device, DEVICE_CHARS, 32)
        for code in sorted(keys.share_codes):
            remap.codes[code] = fresh_value(code, CODE_CHARS, len(code))
        base = {
            "workspace_id": workspace_id,
            "person_id": remap.stand_in_person,
            "created_at": now,
            "hint": None,
        }
        links += [
            {**base, "kind": "participant", "value": str(new)}
            for new in remap.participants.values()
        ]
        links += [{**base, "kind": "device", "value": new} for new in remap.devices.values()]
    for chunk in _chunks(links):
        session.execute(insert(identities), chunk)
    return remaps, [len(rows) for rows in old_rows]


def _owner_columns(data: PeopleData) -> tuple[str, ...]:
    """The column that says whose row it is: the first participant, person or device column."""
    for columns in (data.participant_columns, data.person_columns, data.device_columns):
        if columns:
            return columns[:1]
    return ()


def _claim(found: dict[Any, int], pk: Any, owner: int) -> None:
    """A row named by several people of a group is the first one's (erased first, alone)."""
    found[pk] = min(found.get(pk, owner), owner)


def _owned_by(
    session: Session, name: str, decls: list[PeopleData], keys: PersonKeys, owners: _Owners
) -> dict[Any, int]:
    """The rows the group's people own (their first declared column is the person, or they
    are reached through an owned parent row): primary key → whose (position in the group)."""
    table = table_of(name)
    pk = next(iter(table.primary_key.columns))
    scope = [table.c.workspace_id == keys.workspace_id] if "workspace_id" in table.c else []
    found: dict[Any, int] = {}
    for data in decls:
        for column in _owner_columns(data):
            whose = owners.of_column(data, column)
            for chunk in _chunks(sorted(whose, key=str)):
                for key, value in session.execute(
                    select(pk, table.c[column]).where(*scope, table.c[column].in_(chunk))
                ):
                    _claim(found, key, whose[value])
        if data.via is not None and not data.via.split("->")[1].startswith(EVENTS_TABLE + "."):
            column, target = data.via.split("->")
            parent_name, parent_column = target.split(".")
            parent = table_of(parent_name)
            parent_pk = next(iter(parent.primary_key.columns))
            parent_decls = declared_tables().get(parent_name, [])
            parent_owned = _owned_by(session, parent_name, parent_decls, keys, owners)
            whose_value: dict[Any, int] = {}
            for chunk in _chunks(sorted(parent_owned)):
                for parent_key, value in session.execute(
                    select(parent_pk, parent.c[parent_column]).where(parent_pk.in_(chunk))
                ):
                    if value is not None:
                        _claim(whose_value, value, parent_owned[parent_key])
            for chunk in _chunks(sorted(whose_value, key=str)):
                for key, value in session.execute(
                    select(pk, table.c[column]).where(*scope, table.c[column].in_(chunk))
                ):
                    _claim(found, key, whose_value[value])
    return found


def _media_files(decls: list[PeopleData], row: dict[str, Any], media_path: Path) -> list[Path]:
    files: list[Path] = []
    for data in decls:
        if data.media is None:
            continue
        try:
            relative = data.media.format(**row)
        except (KeyError, IndexError, ValueError):
            continue
        if any(row.get(c) in (None, "") for c in _fields(data.media)):
            continue
        files.append(media_path / relative)
    return files


def _fields(template: str) -> list[str]:
    return [name for _text, name, _spec, _conv in string.Formatter().parse(template) if name]


def _unlink(files: list[Path]) -> int:
    removed = 0
    for file in files:
        try:
            if file.is_file():
                file.unlink()
                removed += 1
        except OSError:
            log.warning("privacy: could not delete %s", file)
    return removed


def _delete_media(
    session: Session,
    table: Table,
    decls: list[PeopleData],
    rows: dict[Any, int],
    media_path: Path,
) -> dict[int, int]:
    """Delete the media files of these rows; files removed by whose row they were."""
    if not any(d.media for d in decls):
        return {}
    pk = next(iter(table.primary_key.columns))
    removed: dict[int, int] = {}
    for chunk in _chunks(sorted(rows)):
        for row in session.execute(select(table).where(pk.in_(chunk))):
            values = dict(row._mapping)
            whose = rows[values[pk.name]]
            n = _unlink(_media_files(decls, values, media_path))
            removed[whose] = removed.get(whose, 0) + n
    return removed


def _anonymise_owned(
    session: Session, table: Table, decls: list[PeopleData], pks: list[Any]
) -> None:
    """Clear the personal columns and replace the identifiers of the people's own rows."""
    in_part = {c: keep for d in decls for c, keep in d.kept_in_part}
    personal = {c for d in decls for c in d.personal_columns} - set(in_part)
    identity = {c for d in decls for c in d.identity_columns}
    pk = next(iter(table.primary_key.columns))
    for chunk in _chunks(pks):
        if personal:
            session.execute(
                update(table).where(pk.in_(chunk)).values({c: _cleared(table, c) for c in personal})
            )
        if in_part:
            rows = session.execute(
                select(pk, *(table.c[c] for c in in_part)).where(pk.in_(chunk))
            ).all()
            _update_each(
                session,
                table,
                [
                    (row[0], {c: keep(row._mapping[c]) for c, keep in in_part.items()})
                    for row in rows
                ],
            )
        if identity:
            rows = session.execute(
                select(pk, *(table.c[c] for c in sorted(identity))).where(pk.in_(chunk))
            ).all()
            _update_each(
                session,
                table,
                [
                    (
                        row[0],
                        {c: _fresh_identity(table, c, row._mapping[c]) for c in sorted(identity)},
                    )
                    for row in rows
                ],
            )


def _update_each(session: Session, table: Table, changes: list[tuple[Any, dict[str, Any]]]) -> None:
    """One UPDATE statement run for many rows (executemany), each with its own values."""
    if not changes:
        return
    pk = next(iter(table.primary_key.columns))
    columns = sorted(changes[0][1])
    statement = (
        update(table)
        .where(pk == bindparam("_pk"))
        .values({c: bindparam(f"_v_{c}") for c in columns})
    )
    params = [{"_pk": key, **{f"_v_{c}": values[c] for c in columns}} for key, values in changes]
    session.connection().execute(statement, params)


# The group's old → new identifiers, in temporary tables of the transaction's connection
# while `_remap_references` runs (one fixed UPDATE per column, whatever the group's size), and
# emptied before the transaction ends: no mapping outlives the erasure.
_MAPS = MetaData()
MAP_INT = Table(
    "erasure_map_int",
    _MAPS,
    Column("kind", String(16), primary_key=True),
    Column("old", BigInteger, primary_key=True),
    Column("new", BigInteger, nullable=False),
)
MAP_STR = Table(
    "erasure_map_str",
    _MAPS,
    Column("kind", String(16), primary_key=True),
    Column("old", String(255), primary_key=True),
    Column("new", String(255), nullable=False),
)
_MAP_DDL = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS erasure_map_int (kind VARCHAR(16) NOT NULL, "
    "old BIGINT NOT NULL, new BIGINT NOT NULL, PRIMARY KEY (kind, old))",
    "CREATE TEMPORARY TABLE IF NOT EXISTS erasure_map_str (kind VARCHAR(16) NOT NULL, "
    "old VARCHAR(255) NOT NULL, new VARCHAR(255) NOT NULL, PRIMARY KEY (kind, old))",
)


def _fill_maps(session: Session, moves: _Moves) -> None:
    for ddl in _MAP_DDL:
        session.execute(text(ddl))
    _empty_maps(session)
    ints = [
        {"kind": kind, "old": old, "new": new}
        for kind, pairs in (("participant", moves.participants), ("person", moves.persons))
        for old, new in pairs.items()
    ]
    strs = [
        {"kind": kind, "old": old, "new": new}
        for kind, pairs in (("device", moves.devices), ("code", moves.codes))
        for old, new in pairs.items()
    ]
    for table, rows in ((MAP_INT, ints), (MAP_STR, strs)):
        for chunk in _chunks(rows, 1000):
            session.execute(insert(table), chunk)


def _empty_maps(session: Session) -> None:
    session.execute(delete(MAP_INT))
    session.execute(delete(MAP_STR))


def _remap_references(
    session: Session, table: Table, data: PeopleData, keys: PersonKeys, moves: _Moves
) -> None:
    """Point every participant, person, device and share-code column of the table that names
    one of the people at their stand-in (in anyone's rows): one UPDATE per column for the whole
    group, through the old → new tables (`_fill_maps`)."""
    scope = [table.c.workspace_id == keys.workspace_id] if "workspace_id" in table.c else []

    def move(column: str, kind: str, pairs: Mapping[Any, Any]) -> None:
        if not pairs:
            return
        mapping = MAP_STR if kind in ("device", "code") else MAP_INT
        col = table.c[column]
        new = (
            select(mapping.c.new)
            .where(mapping.c.kind == kind, mapping.c.old == col)
            .scalar_subquery()
        )
        session.execute(
            update(table)
            .where(*scope, col.in_(select(mapping.c.old).where(mapping.c.kind == kind)))
            .values({column: new})
        )

    if table.name == PARTICIPANTS_TABLE:
        # The former participant rows are deleted; only others' `referred_by` moves.
        for column in data.code_columns:
            move(column, "code", moves.codes)
        return
    for column in data.participant_columns:
        move(column, "participant", moves.participants)
    for column in data.person_columns:
        move(column, "person", moves.persons)
    for column in data.device_columns:
        move(column, "device", moves.devices)
    for column in data.code_columns:
        move(column, "code", moves.codes)


def _named_in_event(
    actor_id: Any, referrer: Any, properties: Any, owners: _Owners, actors: Mapping[str, int]
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


def _rewrite_db_events(
    session: Session,
    *,
    workspace_id: int,
    remaps: list[_Remap],
    owners: _Owners,
    counts: list[_Counts],
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
    for chunk in _chunks(sorted(merged["actors"])):
        terms.append(events.c.actor_id.in_(chunk))
    for chunk in _chunks(sorted(merged["codes"])):
        terms.append(events.c.referrer.in_(chunk))
    as_text = cast(events.c.properties, String)
    words = [str(p) for p in merged["participants"]] + sorted(merged["codes"])
    # Few terms per statement: SQLite parses a long OR as a tree of that depth.
    for chunk in _chunks(words, LIKE_CHUNK):
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
        for i in _named_in_event(actor_id, referrer, properties, owners, actors):
            counts[i].events += 1
            ids[i].append(event_id)
    for chunk in _chunks(changed):
        _update_each(session, events, chunk)
    return ids


def _delete_profile(
    session: Session,
    name: str,
    decls: list[PeopleData],
    keys: PersonKeys,
    owners: _Owners,
    counts: list[_Counts],
) -> None:
    """The people's own rows of a people-domain table (identities, merges, tags, attributes),
    deleted; counted for the first person of the group any of the row's columns names."""
    table = table_of(name)
    pk = next(iter(table.primary_key.columns))
    clause = row_clause(name, keys)
    columns = [
        (data, c)
        for data in decls
        for c in (*data.participant_columns, *data.person_columns, *data.device_columns)
    ]
    whose: dict[Any, int] = {}
    if columns:
        for row in session.execute(select(pk, *(table.c[c] for _d, c in columns)).where(clause)):
            for (data, _c), value in zip(columns, row[1:], strict=True):
                owner = owners.of_column(data, _c).get(value)
                if owner is not None:
                    _claim(whose, row[0], owner)
    session.execute(delete(table).where(clause))
    for i in range(len(counts)):
        counts[i].deleted[name] = 0
    for owner in whose.values():
        counts[owner].deleted[name] += 1
