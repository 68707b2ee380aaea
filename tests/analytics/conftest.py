"""Analytics fixtures: a private lake folder per test and a way to write events quickly."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from im2.config import Settings
from im2.db import Database
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.migrations import all_metadata


@pytest.fixture
def db(_session_db: Database) -> Iterator[Database]:
    """As the shared `db` fixture, but empties only tables the migrations created: other
    domains' models can be ahead of their migrations in a shared working tree."""
    yield _session_db
    existing = set(inspect(_session_db.engine).get_table_names())
    tables = [t.name for t in reversed(all_metadata().sorted_tables) if t.name in existing]
    with _session_db.engine.begin() as conn:
        for table in tables:
            conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 (our own table names)


@pytest.fixture
def lake_path(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def settings(settings: Settings, lake_path: Path) -> Settings:
    return settings.model_copy(update={"lake_path": lake_path})


Row = (
    tuple[EventKind, str | None, datetime] | tuple[EventKind, str | None, datetime, dict[str, Any]]
)


def add_events(
    db: Database,
    rows: Iterable[Row],
    *,
    workspace_id: int = 1,
    campaign_id: int | None = None,
    channel: str | None = None,
    activity_id: int | None = None,
) -> None:
    """Write (kind, participant id, when[, extra fields]) rows as participant events."""
    with db.transaction() as session:
        for row in rows:
            kind, actor, when = row[0], row[1], row[2]
            extra: dict[str, Any] = dict(row[3]) if len(row) > 3 else {}
            record_event(
                session,
                kind=kind,
                occurred_at=when,
                workspace_id=workspace_id,
                campaign_id=extra.pop("campaign_id", campaign_id),
                activity_id=extra.pop("activity_id", activity_id),
                actor_type=ActorType.PARTICIPANT,
                actor_id=actor,
                channel=extra.pop("channel", channel),
                referrer=extra.pop("referrer", None),
                properties=extra.pop("properties", None),
            )
