"""Who is erased together and with which keys (`im2.privacy.erasure`): the people's ids read in
a few statements, the groups of people who share no id, which person of a group each old
identifier belongs to, and the group's old → new identifiers and counts.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.people.schemas import IdentityKind
from im2.privacy.inventory import (
    IDENTITIES_TABLE,
    PARTICIPANTS_TABLE,
    PEOPLE_TABLE,
    VISITOR_PREFIX,
    PersonKeys,
    table_of,
)
from im2.types import PeopleData

DEVICE_CHARS = string.ascii_letters + string.digits
CODE_CHARS = string.ascii_lowercase + string.digits
# Ids per IN list, LIKE terms per statement (SQLite's limits on
# bound values and on expression depth).
CHUNK = 500
LIKE_CHUNK = 100
# `erasure.fresh_value`, passed down (a test swaps it for a reproducible one).
Fresh = Callable[[str, str, int], str]


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def people_keys(
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
    for chunk in chunks(ids):
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
    for chunk in chunks(sorted(whose)):
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
    for chunk in chunks(sorted(part_owner)):
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


def disjoint_prefix(subjects: list[PersonKeys]) -> list[PersonKeys]:
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


def union(subjects: list[PersonKeys]) -> PersonKeys:
    return PersonKeys(
        workspace_id=subjects[0].workspace_id,
        person_id=subjects[0].person_id,
        person_ids=frozenset().union(*(k.person_ids for k in subjects)),
        participant_ids=frozenset().union(*(k.participant_ids for k in subjects)),
        device_ids=frozenset().union(*(k.device_ids for k in subjects)),
        share_codes=frozenset().union(*(k.share_codes for k in subjects)),
    )


@dataclass
class Owners:
    """Which person of a group each old identifier belongs to (by position in the group)."""

    persons: dict[int, int] = field(default_factory=dict)
    participants: dict[int, int] = field(default_factory=dict)
    devices: dict[str, int] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, subjects: list[PersonKeys]) -> Owners:
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


@dataclass
class Remap:
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


@dataclass(frozen=True, slots=True)
class Moves:
    """Old → new of the whole group, by kind of column."""

    participants: dict[int, int]
    persons: dict[int, int]
    devices: dict[str, str]
    codes: dict[str, str]

    @classmethod
    def of(cls, subjects: list[PersonKeys], remaps: list[Remap]) -> Moves:
        moves = cls({}, {}, {}, {})
        for keys, remap in zip(subjects, remaps, strict=True):
            moves.participants.update(remap.participants)
            moves.persons.update(dict.fromkeys(keys.person_ids, remap.stand_in_person))
            moves.devices.update(remap.devices)
            moves.codes.update(remap.codes)
        return moves


@dataclass
class Counts:
    deleted: dict[str, int] = field(default_factory=dict)
    anonymised: dict[str, int] = field(default_factory=dict)
    media: int = 0
    events: int = 0
    deliveries: int = 0
    requests: int = 0
