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
"""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Integer, Table, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from im2.errors import NotFound
from im2.privacy.erasures.models import Erasure
from im2.privacy.inventory import (
    EVENTS_TABLE,
    IDENTITIES_TABLE,
    PARTICIPANTS_TABLE,
    PEOPLE_TABLE,
    VISITOR_PREFIX,
    PersonKeys,
    declared_tables,
    own_clause,
    person_keys,
    row_clause,
    table_of,
)
from im2.privacy.scrub import rewrite_db_events, scrub_deliveries
from im2.privacy.tracking import forget_requests
from im2.types import PeopleData

log = logging.getLogger("im2.privacy")

# The people domain's own tables: a person's profile, deleted with them (never anonymised).
PROFILE_TABLES = ("person_identities", "person_merges", "person_tags", "person_attributes")
DEVICE_CHARS = string.ascii_letters + string.digits
CODE_CHARS = string.ascii_lowercase + string.digits
STAND_IN_CONSENT = "erased"


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


def _random(chars: str, length: int) -> str:
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
    return "x" + _random(CODE_CHARS, max(8, min(len(str(old)), length) - 1))


def _lock_person(session: Session, *, workspace_id: int, person_id: int) -> bool:
    people = table_of(PEOPLE_TABLE)
    found = session.execute(
        select(people.c.id)
        .where(people.c.id == person_id, people.c.workspace_id == workspace_id)
        .with_for_update()
    ).first()
    return found is not None


def _previous(session: Session, *, workspace_id: int, person_id: int) -> Erasure | None:
    return session.scalar(
        select(Erasure).where(Erasure.workspace_id == workspace_id, Erasure.person_id == person_id)
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
    if not _lock_person(session, workspace_id=workspace_id, person_id=person_id):
        done = _previous(session, workspace_id=workspace_id, person_id=person_id)
        if done is None:
            raise NotFound("No such person in this workspace.")
        return ErasureReport(
            workspace_id=workspace_id,
            person_id=person_id,
            already_erased=True,
            erased_at=done.erased_at,
            erasure_id=done.id,
            lake_pending=done.lake_pending is not None,
        )
    keys = person_keys(session, workspace_id=workspace_id, person_id=person_id)
    assert keys is not None  # locked above
    participants = table_of(PARTICIPANTS_TABLE)
    if keys.participant_ids:
        session.execute(
            select(participants.c.id)
            .where(participants.c.id.in_(keys.participant_ids))
            .with_for_update()
        ).all()
    remap = _stand_ins(session, keys=keys, now=now)
    report = _Counts()
    # The person's data-subject requests stay as the brand's record, linked to nobody (never to
    # the stand-in), whichever path erases them; their export files go like their media.
    report.requests, exports = forget_requests(
        session, workspace_id=workspace_id, person_ids=keys.person_ids
    )
    session.flush()
    report.media += _unlink([media_path / name for name in exports])
    tables = declared_tables()
    # Which rows are the person's (owned) and which only refer to them, before anything moves.
    owned = {
        name: _owned_keys(session, name, decls, keys)
        for name, decls in tables.items()
        if name not in (EVENTS_TABLE, PEOPLE_TABLE, PARTICIPANTS_TABLE, *PROFILE_TABLES)
    }
    for name, rows in owned.items():
        decls = tables[name]
        if not rows:
            continue
        table = table_of(name)
        if any(d.on_erase == "delete" for d in decls):
            report.media += _delete_media(session, table, decls, rows, media_path)
            pk = next(iter(table.primary_key.columns))
            session.execute(delete(table).where(pk.in_(rows)))
            report.deleted[name] = report.deleted.get(name, 0) + len(rows)
        else:
            report.media += _anonymise_owned(session, table, decls, rows, media_path)
            report.anonymised[name] = report.anonymised.get(name, 0) + len(rows)
    # References from anyone's rows: participant, person, device and share-code columns.
    for name, decls in tables.items():
        if name in (EVENTS_TABLE, PEOPLE_TABLE, *PROFILE_TABLES):
            continue
        table = table_of(name)
        for data in decls:
            if any(d.on_erase == "delete" for d in decls):
                continue
            _remap_references(session, table, data, keys, remap)
    report.events, event_ids = rewrite_db_events(
        session, workspace_id=workspace_id, pending=remap.pending()
    )
    report.deliveries = scrub_deliveries(session, event_ids=event_ids, pending=remap.pending())
    # The person themselves: profile rows, former participants, the person rows.
    for name in PROFILE_TABLES:
        if name in tables:
            table = table_of(name)
            gone = session.execute(delete(table).where(row_clause(name, keys)))
            report.deleted[name] = int(getattr(gone, "rowcount", 0) or 0)
    if keys.participant_ids:
        gone = session.execute(
            delete(participants).where(participants.c.id.in_(keys.participant_ids))
        )
        report.deleted[PARTICIPANTS_TABLE] = int(getattr(gone, "rowcount", 0) or 0)
    people = table_of(PEOPLE_TABLE)
    session.execute(
        update(people)
        .where(people.c.merged_into_id.in_(keys.person_ids))
        .values(merged_into_id=None)
    )
    gone = session.execute(delete(people).where(people.c.id.in_(keys.person_ids)))
    report.deleted[PEOPLE_TABLE] = int(getattr(gone, "rowcount", 0) or 0)
    record = Erasure(
        workspace_id=workspace_id,
        person_id=person_id,
        reason=reason[:64],
        erased_at=now,
        summary={
            "deleted": report.deleted,
            "anonymised": report.anonymised,
            "media_deleted": report.media,
            "events_rewritten": report.events,
            "webhook_deliveries_scrubbed": report.deliveries,
            "requests_unlinked": report.requests,
        },
        lake_pending=remap.pending() if (remap.actors() or remap.codes) else None,
        lake_done_at=None,
    )
    session.add(record)
    session.flush()
    log.info("privacy: erased person %s of workspace %s", person_id, workspace_id)
    return ErasureReport(
        workspace_id=workspace_id,
        person_id=person_id,
        already_erased=False,
        erased_at=now,
        erasure_id=record.id,
        rows_deleted=dict(report.deleted),
        rows_anonymised=dict(report.anonymised),
        media_deleted=report.media,
        events_rewritten=report.events,
        webhook_deliveries_scrubbed=report.deliveries,
        requests_unlinked=report.requests,
        lake_pending=record.lake_pending is not None,
    )


@dataclass
class _Counts:
    deleted: dict[str, int] = field(default_factory=dict)
    anonymised: dict[str, int] = field(default_factory=dict)
    media: int = 0
    events: int = 0
    deliveries: int = 0
    requests: int = 0


def _stand_ins(session: Session, *, keys: PersonKeys, now: datetime) -> _Remap:
    """A new person, and per former participant a new participant that keeps what counts
    (when they came, from which campaign and channel, who referred them) and nothing that
    identifies; fresh device ids and share codes."""
    remap = _Remap()
    people = table_of(PEOPLE_TABLE)
    participants = table_of(PARTICIPANTS_TABLE)
    identities = table_of(IDENTITIES_TABLE)
    several = len(keys.participant_ids) > 1 or len(keys.device_ids) > 1
    remap.stand_in_person = int(
        session.execute(
            insert(people)
            .values(workspace_id=keys.workspace_id, created_at=now, several_actors=several)
            .returning(people.c.id)
        ).scalar_one()
    )
    device_of: dict[int, str] = {}
    rows = session.execute(
        select(participants).where(participants.c.id.in_(sorted(keys.participant_ids)))
    ).all()
    for row in rows:
        old = dict(row._mapping)
        device = _random(DEVICE_CHARS, 32)
        remap.devices[old["device_id"]] = device
        device_of[old["id"]] = device
        values = {
            name: old[name]
            for name in (
                "workspace_id",
                "consent_at",
                "created_at",
                "first_campaign_id",
                "first_channel",
                "referred_by",
            )
        }
        new_id = session.execute(
            insert(participants)
            .values(**values, device_id=device, consent_version=STAND_IN_CONSENT)
            .returning(participants.c.id)
        ).scalar_one()
        remap.participants[old["id"]] = int(new_id)
    for device in sorted(keys.device_ids - set(remap.devices)):
        remap.devices[device] = _random(DEVICE_CHARS, 32)
    for code in sorted(keys.share_codes):
        remap.codes[code] = _random(CODE_CHARS, len(code))
    links = [{"kind": "participant", "value": str(new)} for new in remap.participants.values()] + [
        {"kind": "device", "value": new} for new in remap.devices.values()
    ]
    for link in links:
        session.execute(
            insert(identities).values(
                workspace_id=keys.workspace_id,
                person_id=remap.stand_in_person,
                created_at=now,
                hint=None,
                **link,
            )
        )
    return remap


def _owner_columns(data: PeopleData) -> tuple[str, ...]:
    """The column that says whose row it is: the first participant, person or device column."""
    for columns in (data.participant_columns, data.person_columns, data.device_columns):
        if columns:
            return columns[:1]
    return ()


def _owned_keys(
    session: Session, name: str, decls: list[PeopleData], keys: PersonKeys
) -> list[Any]:
    """Primary keys of the rows the person owns (their first declared column is the person,
    or they are reached through an owned parent row)."""
    table = table_of(name)
    pk = next(iter(table.primary_key.columns))
    terms = []
    for data in decls:
        owner = _owner_columns(data)
        narrowed = PeopleData(
            table=name,
            participant_columns=tuple(c for c in owner if c in data.participant_columns),
            person_columns=tuple(c for c in owner if c in data.person_columns),
            device_columns=tuple(c for c in owner if c in data.device_columns),
        )
        terms.append(own_clause(table, narrowed, keys))
        if data.via is not None and not data.via.split("->")[1].startswith(EVENTS_TABLE + "."):
            column, target = data.via.split("->")
            parent_name, parent_column = target.split(".")
            parent = table_of(parent_name)
            parent_decls = declared_tables().get(parent_name, [])
            parent_pks = _owned_keys(session, parent_name, parent_decls, keys)
            if parent_pks:
                parent_pk = next(iter(parent.primary_key.columns))
                terms.append(
                    table.c[column].in_(
                        select(parent.c[parent_column]).where(parent_pk.in_(parent_pks))
                    )
                )
    if not terms:
        return []
    where = or_(*terms)
    if "workspace_id" in table.c:
        where = (table.c.workspace_id == keys.workspace_id) & where
    return list(session.scalars(select(pk).where(where)))


def _media_files(
    table: Table, decls: list[PeopleData], rows: list[dict[str, Any]], media_path: Path
) -> list[Path]:
    files: list[Path] = []
    for data in decls:
        if data.media is None:
            continue
        for row in rows:
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
    session: Session, table: Table, decls: list[PeopleData], pks: list[Any], media_path: Path
) -> int:
    if not any(d.media for d in decls):
        return 0
    pk = next(iter(table.primary_key.columns))
    rows = [dict(r._mapping) for r in session.execute(select(table).where(pk.in_(pks)))]
    return _unlink(_media_files(table, decls, rows, media_path))


def _anonymise_owned(
    session: Session, table: Table, decls: list[PeopleData], pks: list[Any], media_path: Path
) -> int:
    """Clear the personal columns and replace the identifiers of the person's own rows."""
    removed = _delete_media(session, table, decls, pks, media_path)
    in_part = {c: keep for d in decls for c, keep in d.kept_in_part}
    personal = {c for d in decls for c in d.personal_columns} - set(in_part)
    identity = {c for d in decls for c in d.identity_columns}
    pk = next(iter(table.primary_key.columns))
    if personal:
        session.execute(
            update(table).where(pk.in_(pks)).values({c: _cleared(table, c) for c in personal})
        )
    if in_part:
        rows = session.execute(select(pk, *(table.c[c] for c in in_part)).where(pk.in_(pks)))
        for row in rows.all():
            kept = {c: keep(row._mapping[c]) for c, keep in in_part.items()}
            session.execute(update(table).where(pk == row[0]).values(kept))
    if identity:
        rows = session.execute(select(pk, *(table.c[c] for c in identity)).where(pk.in_(pks)))
        for row in rows.all():
            values = {c: _fresh_identity(table, c, row._mapping[c]) for c in identity}
            session.execute(update(table).where(pk == row[0]).values(values))
    return removed


def _remap_references(
    session: Session, table: Table, data: PeopleData, keys: PersonKeys, remap: _Remap
) -> None:
    """Point every participant, person, device and share-code column of the table that names
    the person at the stand-in (in anyone's rows)."""
    scope = (table.c.workspace_id == keys.workspace_id) if "workspace_id" in table.c else None

    def move(column: str, pairs: Mapping[Any, Any]) -> None:
        for old, new in pairs.items():
            where = table.c[column] == old
            if scope is not None:
                where = scope & where
            session.execute(update(table).where(where).values({column: new}))

    if table.name == PARTICIPANTS_TABLE:
        # The former participant rows are deleted; only others' `referred_by` moves.
        for column in data.code_columns:
            move(column, remap.codes)
        return
    for column in data.participant_columns:
        move(column, remap.participants)
    for column in data.person_columns:
        move(column, dict.fromkeys(keys.person_ids, remap.stand_in_person))
    for column in data.device_columns:
        move(column, remap.devices)
    for column in data.code_columns:
        move(column, remap.codes)
