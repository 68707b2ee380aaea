"""The activity-format registry: every format is registered once, declares every table that
holds people's data, and a declaration that does not hold together is refused at once."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import select

from im2.activities import formats
from im2.activities.models import Activity
from im2.activities.protocol import PeopleData
from im2.activities.registry import FORMATS, Registry, RegistryError
from im2.activities.routes import format_routers
from im2.activities.schemas import ActivityKind
from im2.clock import ManualClock
from im2.db import Base, Database
from im2.demo import load_demo
from im2.web.participant_forms import participant_post


def test_every_kind_is_registered_once_with_its_tables_listed() -> None:
    assert FORMATS.kinds() == list(ActivityKind)
    table_packages = {m.__name__.rpartition(".")[0] for m in formats.TABLE_MODULES}
    assert table_packages == {f.package for f in FORMATS}


def test_every_table_that_refers_to_a_person_is_declared() -> None:
    """A new table with a participant column and no `PeopleData` would escape a data-subject
    request: this is the list the privacy work walks."""
    declared = {(d.table, c) for _kind, d in FORMATS.people_data() for c in d.participant_columns}
    format_tables = {
        table
        for module in formats.TABLE_MODULES
        for table in Base.metadata.tables.values()
        if any(
            getattr(getattr(module, name), "__table__", None) is table
            for name in dir(module)
            if isinstance(getattr(module, name), type)
        )
    }
    assert format_tables, "the formats' tables are on the metadata"
    referring = {
        (table.name, column.name)
        for table in format_tables
        for column in table.c
        if any(fk.column.table.name == "participants" for fk in column.foreign_keys)
    }
    assert referring - declared == set()


def test_a_declaration_that_does_not_hold_together_is_refused() -> None:
    poll = FORMATS.get(ActivityKind.POLL)
    assert poll is not None
    registry = Registry()
    registry.register(poll)
    with pytest.raises(RegistryError, match="registered twice"):
        registry.register(poll)
    with pytest.raises(RegistryError, match="pydantic model"):
        Registry().register(dataclasses.replace(poll, settings=dict))  # type: ignore[arg-type]
    with pytest.raises(RegistryError, match="no table"):
        Registry().register(
            dataclasses.replace(poll, people_data=(PeopleData("poll_voters", ("voter_id",)),))
        )
    with pytest.raises(RegistryError, match="no column"):
        Registry().register(
            dataclasses.replace(poll, people_data=(PeopleData("poll_ballots", ("voter_id",)),))
        )
    with pytest.raises(RegistryError, match="people's data"):
        Registry().register(dataclasses.replace(poll, people_data=()))


def test_every_stored_setting_reads_as_its_model(db: Database, clock: ManualClock) -> None:
    """The demo makes activities of every format the way the console does: each one's
    settings read as its format's model (no key the model does not know, none missing)."""
    load_demo(db, now=clock.now())
    with db.session() as session:
        rows = session.scalars(select(Activity)).all()
        assert {row.kind for row in rows} == {kind.value for kind in ActivityKind}
        for row in rows:
            fmt = FORMATS.get(row.kind)
            assert fmt is not None
            assert issubclass(fmt.settings, BaseModel)
            fmt.settings_of(row.settings)


def test_every_participant_post_goes_through_the_one_form_path() -> None:
    """CSRF, honeypot and rate limit live in one place (`im2.web.participant_forms`): a
    format's participant POST that skipped it would be open to bots and floods."""

    def calls(dependant: Dependant) -> Iterator[object]:
        for sub in dependant.dependencies:
            yield sub.call
            yield from calls(sub)

    posts = [
        route
        for router in format_routers("public")
        for route in router.routes
        if isinstance(route, APIRoute) and "POST" in route.methods
    ]
    assert {route.path.split("/")[3] for route in posts} == {k.value for k in ActivityKind}
    for route in posts:
        assert participant_post in set(calls(route.dependant)), route.path
