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

This module is the entry and the order of the steps; the steps live beside it:
`erasure_plan` (the people's keys, groups, old → new), `erasure_rows` (a table's owned rows,
anonymised or deleted), `erasure_remap` (the stand-ins, references moved to them),
`erasure_events` (database events rewritten) and `erasure_media` (files deleted).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, and_, delete, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from im2.db import insert_ids
from im2.errors import NotFound
from im2.privacy.erasure_events import rewrite_db_events
from im2.privacy.erasure_media import delete_media, forget_group_requests
from im2.privacy.erasure_plan import (
    Counts,
    Moves,
    Owners,
    Remap,
    chunks,
    disjoint_prefix,
    people_keys,
    union,
)
from im2.privacy.erasure_remap import (
    STAND_IN_CONSENT,
    empty_maps,
    fill_maps,
    remap_references,
    stand_ins,
)
from im2.privacy.erasure_rows import anonymise_owned, delete_profile, owned_by
from im2.privacy.erasures.models import Erasure
from im2.privacy.inventory import (
    EVENTS_TABLE,
    PARTICIPANTS_TABLE,
    PEOPLE_TABLE,
    PersonKeys,
    declared_tables,
    table_of,
)
from im2.privacy.mentions import MENTIONS_TABLE, blank_matched
from im2.privacy.scrub import scrub_group_deliveries
from im2.types import PeopleData

__all__ = [
    "STAND_IN_CONSENT",
    "ErasureReport",
    "erase_people",
    "erase_person",
    "fresh_value",
    "inactive_clause",
]

log = logging.getLogger("im2.privacy")

# The people domain's own tables: a person's profile, deleted with them (never anonymised).
PROFILE_TABLES = ("person_identities", "person_merges", "person_tags", "person_attributes")


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


def fresh_value(old: str, chars: str, length: int) -> str:
    """A fresh random identifier replacing `old` (a device id, a share code, an identity
    value). `old` plays no part in the value; it is passed so that a test can swap this
    function for a reproducible one and compare two erasures of the same data."""
    del old
    return "".join(secrets.choice(chars) for _ in range(length))


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
    for chunk in chunks(sorted(wanted)):
        for row in session.execute(
            select(people.c.id, people.c.last_seen_at, people.c.created_at)
            .where(people.c.id.in_(chunk), people.c.workspace_id == workspace_id)
            .order_by(people.c.id)
            .with_for_update()
        ):
            locked[int(row.id)] = row
    reports: dict[int, ErasureReport] = {}
    missing = [p for p in wanted if p not in locked]
    for chunk in chunks(missing):
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
    subjects = people_keys(session, workspace_id=workspace_id, person_ids=todo)
    if inactive_since is not None:
        active = _acted_since(
            session, workspace_id=workspace_id, subjects=subjects, since=inactive_since
        )
        subjects = [k for k in subjects if k.person_id not in active]
    while subjects:
        group = disjoint_prefix(subjects)
        for report in _erase_group(
            session, subjects=group, now=now, media_path=media_path, reason=reason
        ):
            reports[report.person_id] = report
        rest = [k.person_id for k in subjects[len(group) :]]
        # People who shared an id with someone just erased: their keys again, as after
        # that erasure (what erasing them one by one would have found).
        subjects = people_keys(session, workspace_id=workspace_id, person_ids=rest)
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
    for chunk in chunks(sorted(owner)):
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


@dataclass(frozen=True, slots=True)
class _Group:
    """People erased together (sharing no id), and what every step of their erasure reads."""

    subjects: list[PersonKeys]
    # All their ids at once, and whose (position in `subjects`) each old one is.
    keys: PersonKeys
    owners: Owners
    # Per person, what was deleted, anonymised and rewritten (their report and record).
    counts: list[Counts]
    tables: dict[str, list[PeopleData]]

    @property
    def workspace_id(self) -> int:
        return self.keys.workspace_id


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
    keys = union(subjects)
    _lock_participants(session, keys)
    remaps, found_parts = stand_ins(session, subjects=subjects, now=now, fresh=fresh_value)
    group = _Group(
        subjects=subjects,
        keys=keys,
        owners=Owners.of(subjects),
        counts=[Counts() for _ in subjects],
        tables=declared_tables(),
    )
    # The people's data-subject requests stay as the brand's record, linked to nobody (never
    # to a stand-in), whichever path erases them; their export files go like their media.
    forget_group_requests(
        session, keys=keys, owners=group.owners, counts=group.counts, media_path=media_path
    )
    _erase_owned_rows(session, group, media_path=media_path)
    _move_references(session, group, moves=Moves.of(subjects, remaps))
    _rewrite_events(session, group, remaps=remaps)
    _blank_mentions(session, group)
    _delete_people(session, group, found_parts=found_parts)
    records = _record(session, group, remaps=remaps, now=now, reason=reason)
    if len(subjects) == 1:
        log.info(
            "privacy: erased person %s of workspace %s", subjects[0].person_id, group.workspace_id
        )
    else:
        log.info("privacy: erased %s people of workspace %s", len(subjects), group.workspace_id)
    counts = group.counts
    return [
        ErasureReport(
            workspace_id=group.workspace_id,
            person_id=person.person_id,
            already_erased=False,
            erased_at=now,
            erasure_id=record_id,
            rows_deleted=dict(counts[i].deleted),
            rows_anonymised=dict(counts[i].anonymised),
            media_deleted=counts[i].media,
            events_rewritten=counts[i].events,
            webhook_deliveries_scrubbed=counts[i].deliveries,
            requests_unlinked=counts[i].requests,
            lake_pending=lake_pending,
        )
        for i, (person, (record_id, lake_pending)) in enumerate(zip(subjects, records, strict=True))
    ]


def _lock_participants(session: Session, keys: PersonKeys) -> None:
    """Lock the people's participant rows: an action of theirs that committed first is erased
    with them; one that comes after waits, then finds them gone."""
    participants = table_of(PARTICIPANTS_TABLE)
    for chunk in chunks(sorted(keys.participant_ids)):
        session.execute(
            select(participants.c.id).where(participants.c.id.in_(chunk)).with_for_update()
        ).all()


def _erase_owned_rows(session: Session, group: _Group, *, media_path: Path) -> None:
    """The people's own rows of every declared table (not events, people, participants or
    profiles): their media deleted, then the rows deleted or anonymised as declared. Which rows
    are whose is read for every table before any row changes."""
    owned = {
        name: owned_by(session, name, decls, group.keys, group.owners)
        for name, decls in group.tables.items()
        if name not in (EVENTS_TABLE, PEOPLE_TABLE, PARTICIPANTS_TABLE, *PROFILE_TABLES)
    }
    counts = group.counts
    for name, rows in owned.items():
        decls = group.tables[name]
        if not rows:
            continue
        table = table_of(name)
        pks = sorted(rows)
        removed = delete_media(session, table, decls, rows, media_path)
        for i, n in removed.items():
            counts[i].media += n
        if any(d.on_erase == "delete" for d in decls):
            pk = next(iter(table.primary_key.columns))
            for chunk in chunks(pks):
                session.execute(delete(table).where(pk.in_(chunk)))
            tally = "deleted"
        else:
            anonymise_owned(session, table, decls, pks, fresh=fresh_value)
            tally = "anonymised"
        for i in rows.values():
            where = getattr(counts[i], tally)
            where[name] = where.get(name, 0) + 1


def _move_references(session: Session, group: _Group, *, moves: Moves) -> None:
    """References from anyone's rows (participant, person, device and share-code columns)
    moved to the stand-ins, through the old → new tables, emptied again after."""
    fill_maps(session, moves)
    for name, decls in group.tables.items():
        if name in (EVENTS_TABLE, PEOPLE_TABLE, *PROFILE_TABLES):
            continue
        if any(d.on_erase == "delete" for d in decls):
            continue
        table = table_of(name)
        for data in decls:
            remap_references(session, table, data, group.keys, moves)
    empty_maps(session)


def _rewrite_events(session: Session, group: _Group, *, remaps: list[Remap]) -> None:
    """The database's events that name the people rewritten, then the webhook deliveries of
    those events scrubbed."""
    event_ids = rewrite_db_events(
        session,
        workspace_id=group.workspace_id,
        remaps=remaps,
        owners=group.owners,
        counts=group.counts,
    )
    scrubbed = scrub_group_deliveries(
        session, event_ids=event_ids, pendings=[remap.pending() for remap in remaps]
    )
    for count, n in zip(group.counts, scrubbed, strict=True):
        count.deliveries = n


def _blank_mentions(session: Session, group: _Group) -> None:
    """Their public posts the brand collected, matched to their social accounts (identities,
    deleted next): blanked, the counts kept (`im2.privacy.mentions`)."""
    blanked = blank_matched(
        session,
        workspace_id=group.workspace_id,
        people=[person.person_ids for person in group.subjects],
    )
    for count, n in zip(group.counts, blanked, strict=True):
        if n:
            count.anonymised[MENTIONS_TABLE] = n


def _delete_people(session: Session, group: _Group, *, found_parts: list[int]) -> None:
    """The people themselves: profile rows, former participants (`found_parts`: how many each
    person had), the person rows."""
    keys = group.keys
    for name in PROFILE_TABLES:
        if name in group.tables:
            delete_profile(session, name, group.tables[name], keys, group.owners, group.counts)
    participants = table_of(PARTICIPANTS_TABLE)
    for chunk in chunks(sorted(keys.participant_ids)):
        session.execute(delete(participants).where(participants.c.id.in_(chunk)))
    for person, count, n in zip(group.subjects, group.counts, found_parts, strict=True):
        if person.participant_ids:
            count.deleted[PARTICIPANTS_TABLE] = n
    people = table_of(PEOPLE_TABLE)
    for chunk in chunks(sorted(keys.person_ids)):
        session.execute(
            update(people).where(people.c.merged_into_id.in_(chunk)).values(merged_into_id=None)
        )
        session.execute(delete(people).where(people.c.id.in_(chunk)))


def _record(
    session: Session, group: _Group, *, remaps: list[Remap], now: datetime, reason: str
) -> list[tuple[int, bool]]:
    """The durable record of each erasure (what makes erasing twice a no-op, and the lake's
    to-do), inserted in the people's order, a few hundred per statement. Returns each one's
    (id, lake pending)."""
    rows = []
    for person, count, remap in zip(group.subjects, group.counts, remaps, strict=True):
        count.deleted[PEOPLE_TABLE] = len(person.person_ids)
        rows.append(
            {
                "workspace_id": group.workspace_id,
                "person_id": person.person_id,
                "reason": reason[:64],
                "erased_at": now,
                "summary": {
                    "deleted": count.deleted,
                    "anonymised": count.anonymised,
                    "media_deleted": count.media,
                    "events_rewritten": count.events,
                    "webhook_deliveries_scrubbed": count.deliveries,
                    "requests_unlinked": count.requests,
                },
                "lake_pending": remap.pending() if (remap.actors() or remap.codes) else None,
                "lake_done_at": None,
            }
        )
    ids = insert_ids(session, table_of(Erasure.__tablename__), rows)
    return [(new, row["lake_pending"] is not None) for new, row in zip(ids, rows, strict=True)]
