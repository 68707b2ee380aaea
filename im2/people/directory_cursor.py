"""The people list's keyset pages: each sort read in phases, each an index range ordered by
(value, id) descending, and the cursor that names the phase and the last (value, id) shown
(see `im2.people.directory`)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from im2.errors import InvalidInput
from im2.i18n import _
from im2.people.models import Person
from im2.people.schemas import STAGE_ORDER, PeopleSort
from im2.types import MAX_ID


@dataclass(frozen=True, slots=True)
class Phase:
    where: ColumnElement[bool] | None
    key: Any  # a column sorted descending before the id, or None (the id alone)


def sort_phases(sort: PeopleSort) -> list[Phase]:
    if sort is PeopleSort.STAGE:
        return [Phase(Person.stage == stage, None) for stage in STAGE_ORDER] + [
            Phase(Person.stage.is_(None), None)
        ]
    column = Person.score if sort is PeopleSort.SCORE else Person.last_seen_at
    return [Phase(column.is_not(None), column), Phase(column.is_(None), None)]


def encode_cursor(sort: PeopleSort, phase: int, value: Any, last_id: int) -> str:
    if isinstance(value, datetime):
        value = {"t": value.isoformat()}
    raw = json.dumps({"s": sort.value, "p": phase, "v": value, "i": last_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, sort: PeopleSort) -> tuple[int, Any, int] | None:
    if not cursor:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if raw["s"] != sort.value:
            raise ValueError("another sort")
        value = raw["v"]
        if isinstance(value, dict):
            value = datetime.fromisoformat(value["t"])
        elif value is not None and not isinstance(value, int | float):
            raise ValueError(value)
        phase, last_id = int(raw["p"]), int(raw["i"])
        if phase < 0 or not 0 < last_id <= MAX_ID:
            raise ValueError(phase)
        return phase, value, last_id
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise InvalidInput(
            _("The cursor is not valid; use next_cursor from a previous page."), field="cursor"
        ) from None


def after_cursor(key: Any, value: Any, last_id: int) -> ColumnElement[bool]:
    if key is None:
        return Person.id < last_id
    return or_(key < value, and_(key == value, Person.id < last_id))


def page_by_phases(
    session: Session,
    *,
    where: list[ColumnElement[bool]],
    sort: PeopleSort,
    cursor: str | None,
    limit: int,
) -> tuple[list[int], str | None]:
    phases = sort_phases(sort)
    start = decode_cursor(cursor, sort)
    first = 0 if start is None else start[0]
    picked: list[tuple[int, int, Any]] = []  # (phase, id, key value)
    for index in range(first, len(phases)):
        phase = phases[index]
        key = phase.key
        query = select(Person.id, key if key is not None else Person.id).where(*where)
        if phase.where is not None:
            query = query.where(phase.where)
        if start is not None and index == start[0]:
            query = query.where(after_cursor(key, start[1], start[2]))
        order = (key.desc(), Person.id.desc()) if key is not None else (Person.id.desc(),)
        rows = session.execute(query.order_by(*order).limit(limit + 1 - len(picked))).all()
        picked.extend((index, int(pid), value) for pid, value in rows)
        if len(picked) > limit:
            break
    more = len(picked) > limit
    picked = picked[:limit]
    if not more or not picked:
        return [pid for _p, pid, _v in picked], None
    phase_index, last_id, value = picked[-1]
    if phases[phase_index].key is None:
        value = None
    elif isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return [pid for _p, pid, _v in picked], encode_cursor(sort, phase_index, value, last_id)


class Desc:
    """Sorts values highest first (None, which only shares a phase with None, last)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: Desc) -> bool:
        if self.value is None or other.value is None:
            return False
        return bool(self.value > other.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Desc) and self.value == other.value

    __hash__ = None  # type: ignore[assignment]
