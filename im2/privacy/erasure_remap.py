"""The people's anonymous stand-ins (a new person, a new participant per former participant,
fresh device ids and share codes) and the move of every reference to them in anyone's rows, one
UPDATE per column for a whole group (`im2.privacy.erasure`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from im2.db import insert_ids
from im2.privacy.erasure_plan import CODE_CHARS, DEVICE_CHARS, Fresh, Moves, Remap, chunks
from im2.privacy.inventory import (
    IDENTITIES_TABLE,
    PARTICIPANTS_TABLE,
    PEOPLE_TABLE,
    PersonKeys,
    table_of,
)
from im2.types import PeopleData

STAND_IN_CONSENT = "erased"


def stand_ins(
    session: Session, *, subjects: list[PersonKeys], now: datetime, fresh: Fresh
) -> tuple[list[Remap], list[int]]:
    """Per person a new person, and per former participant a new participant that keeps what
    counts (when they came, from which campaign and channel, who referred them) and nothing
    that identifies; `fresh` device ids and share codes. Returns the remaps and how many
    participant rows each person had."""
    people = table_of(PEOPLE_TABLE)
    participants = table_of(PARTICIPANTS_TABLE)
    identities = table_of(IDENTITIES_TABLE)
    workspace_id = subjects[0].workspace_id
    remaps = [Remap() for _ in subjects]
    new_people = insert_ids(
        session,
        people,
        [
            {
                "workspace_id": workspace_id,
                "created_at": now,
                "several_actors": len(k.participant_ids) > 1 or len(k.device_ids) > 1,
            }
            for k in subjects
        ],
    )
    for remap, new in zip(remaps, new_people, strict=True):
        remap.stand_in_person = new
    owner = {part: i for i, k in enumerate(subjects) for part in k.participant_ids}
    old_rows: list[list[dict[str, Any]]] = [[] for _ in subjects]
    for chunk in chunks(sorted(owner)):
        for row in session.execute(select(participants).where(participants.c.id.in_(chunk))):
            values = dict(row._mapping)
            old_rows[owner[values["id"]]].append(values)
    kept = ("workspace_id", "consent_at", "created_at", "first_campaign_id", "first_channel")
    inserts: list[dict[str, Any]] = []
    olds: list[tuple[int, int]] = []
    for i, rows in enumerate(old_rows):
        rows.sort(key=lambda r: r["id"])
        for old in rows:
            device = fresh(old["device_id"], DEVICE_CHARS, 32)
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
    for (i, old_id), new in zip(olds, insert_ids(session, participants, inserts), strict=True):
        remaps[i].participants[old_id] = new
    links: list[dict[str, Any]] = []
    for keys, remap in zip(subjects, remaps, strict=True):
        for device in sorted(keys.device_ids - set(remap.devices)):
            remap.devices[device] = fresh(device, DEVICE_CHARS, 32)
        for code in sorted(keys.share_codes):
            remap.codes[code] = fresh(code, CODE_CHARS, len(code))
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
    for chunk in chunks(links):
        session.execute(insert(identities), chunk)
    return remaps, [len(rows) for rows in old_rows]


# The group's old → new identifiers, in temporary tables of the transaction's connection
# while `remap_references` runs (one fixed UPDATE per column, whatever the group's size), and
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


def fill_maps(session: Session, moves: Moves) -> None:
    for ddl in _MAP_DDL:
        session.execute(text(ddl))
    empty_maps(session)
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
        for chunk in chunks(rows, 1000):
            session.execute(insert(table), chunk)


def empty_maps(session: Session) -> None:
    session.execute(delete(MAP_INT))
    session.execute(delete(MAP_STR))


def remap_references(
    session: Session, table: Table, data: PeopleData, keys: PersonKeys, moves: Moves
) -> None:
    """Point every participant, person, device and share-code column of the table that names
    one of the people at their stand-in (in anyone's rows): one UPDATE per column for the whole
    group, through the old → new tables (`fill_maps`)."""
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
