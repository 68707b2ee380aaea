"""Every activity format, registered by name: one line per format, checked when it registers.

The console's format picker, the shared console and public routes, the demo and the privacy
walk over people's data all ask this registry; nothing finds formats by looking at folders.
Importing it imports every format's service, so table-only code (models, migrations) does not:
the formats' tables are listed in `im2.activities.formats`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table

from im2.activities.formats.cards import format as cards
from im2.activities.formats.checkin import format as checkin
from im2.activities.formats.draw import format as draw
from im2.activities.formats.groupbuy import format as groupbuy
from im2.activities.formats.poll import format as poll
from im2.activities.formats.qa import format as qa
from im2.activities.formats.quiz import format as quiz
from im2.activities.formats.referral import format as referral
from im2.activities.formats.survey import format as survey
from im2.activities.formats.ugc import format as ugc
from im2.activities.protocol import ActivityFormat, PeopleData
from im2.activities.schemas import ActivityKind
from im2.db import Base


class RegistryError(TypeError):
    """A format's declaration does not hold together (raised at import, so the app never
    starts with it)."""


class Registry:
    def __init__(self) -> None:
        self._formats: dict[ActivityKind, ActivityFormat[Any]] = {}

    def register(self, fmt: ActivityFormat[Any]) -> None:
        check_format(fmt)
        if fmt.kind in self._formats:
            raise RegistryError(f"{fmt.kind.value}: registered twice")
        self._formats[fmt.kind] = fmt

    def __iter__(self) -> Iterator[ActivityFormat[Any]]:
        """In the order of `ActivityKind` (the console's format picker shows them so)."""
        order = list(ActivityKind)
        return iter(sorted(self._formats.values(), key=lambda f: order.index(f.kind)))

    def __len__(self) -> int:
        return len(self._formats)

    def get(self, kind: ActivityKind | str) -> ActivityFormat[Any] | None:
        try:
            return self._formats.get(ActivityKind(kind))
        except ValueError:
            return None

    def kinds(self) -> list[ActivityKind]:
        return [f.kind for f in self]

    def people_data(self) -> list[tuple[ActivityKind, PeopleData]]:
        """Every table of every format that holds rows about a person."""
        return [(f.kind, data) for f in self for data in f.people_data]


def check_format(fmt: ActivityFormat[Any]) -> None:
    """What a type checker cannot see: the settings and form models are pydantic models, and
    every people-data table and column exists."""
    if not isinstance(fmt, ActivityFormat) or not isinstance(fmt.kind, ActivityKind):
        raise RegistryError(f"{fmt!r} is not an ActivityFormat of a known kind")
    name = fmt.kind.value
    if not (isinstance(fmt.settings, type) and issubclass(fmt.settings, BaseModel)):
        raise RegistryError(f"{name}: settings must be a pydantic model, not {fmt.settings!r}")
    if fmt.create is not None and not issubclass(fmt.create.model, BaseModel):
        raise RegistryError(f"{name}: the create form's model must be a pydantic model")
    if fmt.export is not None:
        if "{id}" not in fmt.export.filename:
            raise RegistryError(f"{name}: the export's filename needs {{id}}")
        ways = [fmt.export.rows, fmt.export.rows_at, fmt.export.table]
        if sum(way is not None for way in ways) != 1:
            raise RegistryError(f"{name}: an export has rows (with columns) or a table")
        if fmt.export.table is None and not fmt.export.columns:
            raise RegistryError(f"{name}: an export's rows need their columns")
    if not fmt.people_data:
        raise RegistryError(f"{name}: declare the tables that hold people's data")
    for data in fmt.people_data:
        table: Table | None = Base.metadata.tables.get(data.table)
        if table is None:
            raise RegistryError(f"{name}: no table {data.table!r}")
        columns = data.columns()
        if not data.participant_columns and not data.device_columns and data.via is None:
            raise RegistryError(f"{name}: {data.table} names no person or device column")
        if data.via is not None:
            column, _, target = data.via.partition("->")
            parent = Base.metadata.tables.get(target.partition(".")[0])
            if column not in table.c or parent is None or target.partition(".")[2] not in parent.c:
                raise RegistryError(f"{name}: {data.table}'s via names no column: {data.via}")
        missing = [c for c in columns if c not in table.c]
        if missing:
            raise RegistryError(f"{name}: {data.table} has no column {', '.join(missing)}")


FORMATS = Registry()

# One line per format.
FORMATS.register(poll.FORMAT)
FORMATS.register(quiz.FORMAT)
FORMATS.register(survey.FORMAT)
FORMATS.register(qa.FORMAT)
FORMATS.register(ugc.FORMAT)
FORMATS.register(draw.FORMAT)
FORMATS.register(checkin.FORMAT)
FORMATS.register(groupbuy.FORMAT)
FORMATS.register(referral.FORMAT)
FORMATS.register(cards.FORMAT)
