"""Moving events to the Parquet lake: complete, exactly once, resumable after a crash."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from sqlalchemy import func, select, text

from im2.analytics.lake import (
    get_mark,
    lake_files,
    move_events_to_lake,
    read_events_after,
    read_lake,
)
from im2.clock import ManualClock
from im2.db import Database
from im2.events.models import Event
from im2.events.schemas import EventKind
from tests.analytics.conftest import add_events
from tests.conftest import START


def _seed(db: Database, n: int, *, start_index: int = 0, days: int = 4) -> None:
    add_events(
        db,
        (
            (
                EventKind.VOTE_CAST,
                f"p{i % 37}",
                START - timedelta(days=days) + timedelta(minutes=15 * i),
                {"campaign_id": 1 + i % 2, "properties": {"option": i, "text": "樱花"}},
            )
            for i in range(start_index, start_index + n)
        ),
    )


def _db_rows(db: Database) -> list[tuple[int, str, str | None]]:
    with db.session() as session:
        rows = session.execute(select(Event.id, Event.kind, Event.actor_id).order_by(Event.id))
        return [(r[0], r[1], r[2]) for r in rows]


def _lake_ids(lake_path: Path) -> list[int]:
    dataset = ds.dataset(lake_path / "events", format="parquet", partitioning="hive")
    return sorted(dataset.to_table(columns=["id"]).column("id").to_pylist())


def test_moves_every_event_into_daily_hive_partitions_readable_by_pyarrow(
    db: Database, lake_path: Path, clock: ManualClock
) -> None:
    _seed(db, 250)

    result = move_events_to_lake(db, lake_path=lake_path, now=clock.now(), batch_size=100)

    assert result.moved == 250
    assert result.batches == 3
    days = sorted(p.name for p in (lake_path / "events").iterdir())
    assert days == ["date=2026-02-26", "date=2026-02-27", "date=2026-02-28"]
    table = ds.dataset(lake_path / "events", format="parquet", partitioning="hive").to_table()
    assert sorted(table.column("id").to_pylist()) == [r[0] for r in _db_rows(db)]
    first = table.sort_by("id").slice(0, 1).to_pylist()[0]
    assert first["kind"] == "vote.cast"
    assert json.loads(first["properties"]) == {"option": 0, "text": "樱花"}
    assert str(first["date"]) == "2026-02-26"
    assert first["occurred_at"] == START - timedelta(days=4)
    # The database keeps every row: no retention was asked for.
    assert len(_db_rows(db)) == 250
    with db.session() as session:
        assert get_mark(session) == max(r[0] for r in _db_rows(db))


def test_a_second_run_moves_only_new_events(
    db: Database, lake_path: Path, clock: ManualClock
) -> None:
    _seed(db, 40)
    move_events_to_lake(db, lake_path=lake_path, now=clock.now(), batch_size=100)
    assert move_events_to_lake(db, lake_path=lake_path, now=clock.now()).moved == 0

    _seed(db, 15, start_index=40)
    again = move_events_to_lake(db, lake_path=lake_path, now=clock.now(), batch_size=100)

    assert again.moved == 15
    assert _lake_ids(lake_path) == [r[0] for r in _db_rows(db)]


def test_young_events_wait_for_the_next_run(
    db: Database, lake_path: Path, clock: ManualClock
) -> None:
    _seed(db, 10)
    add_events(db, [(EventKind.VOTE_CAST, "late", clock.now() - timedelta(seconds=1))])

    result = move_events_to_lake(db, lake_path=lake_path, now=clock.now(), settle_seconds=5)

    assert result.moved == 10
    clock.advance(timedelta(seconds=10))
    assert move_events_to_lake(db, lake_path=lake_path, now=clock.now()).moved == 1


class Crash(RuntimeError):
    pass


def test_a_crash_between_files_and_mark_neither_loses_nor_duplicates(
    db: Database, lake_path: Path, clock: ManualClock
) -> None:
    _seed(db, 120)
    move_events_to_lake(db, lake_path=lake_path, now=clock.now(), batch_size=50, max_batches=1)

    def crash(_files: list[Path]) -> None:
        raise Crash("power cut")

    with pytest.raises(Crash):
        move_events_to_lake(
            db, lake_path=lake_path, now=clock.now(), batch_size=50, after_write=crash
        )
    with db.session() as session:
        mark = get_mark(session)
    # The crashed batch's files are on disk, yet no reader counts them: they are above the mark.
    assert any(first > mark for _f, first, _l in lake_files(lake_path))
    assert read_lake(lake_path, mark=mark).num_rows == 50

    # New events arrive before the retry, so the retried batch has other bounds than the crash.
    _seed(db, 7, start_index=120)
    move_events_to_lake(db, lake_path=lake_path, now=clock.now(), batch_size=1000)

    assert _lake_ids(lake_path) == [r[0] for r in _db_rows(db)]


_KILLED_MOVER = """
import sys, time
from pathlib import Path
from datetime import datetime
from im2.db import Database
from im2.analytics.lake import move_events_to_lake

def stall(files):
    print("written", flush=True)
    time.sleep(60)

db = Database(sys.argv[1])
move_events_to_lake(db, lake_path=Path(sys.argv[2]), now=datetime.fromisoformat(sys.argv[3]),
                    batch_size=int(sys.argv[4]), after_write=stall)
"""


def test_a_mover_killed_mid_batch_is_resumed_exactly_once(
    db: Database, lake_path: Path, clock: ManualClock
) -> None:
    if db.dialect != "sqlite":
        pytest.skip("the child process opens the SQLite test file by its URL")
    _seed(db, 300)
    move_events_to_lake(db, lake_path=lake_path, now=clock.now(), batch_size=100, max_batches=1)

    args = [db.url, str(lake_path), clock.now().isoformat(), "100"]
    with subprocess.Popen(
        [sys.executable, "-c", _KILLED_MOVER, *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    ) as child:
        try:
            assert child.stdout is not None
            # The child has renamed its batch's files and sleeps before advancing the mark.
            assert child.stdout.readline().strip() == "written"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    with db.session() as session:
        assert get_mark(session) == 100
    result = move_events_to_lake(db, lake_path=lake_path, now=clock.now(), batch_size=100)

    assert result.removed_orphans >= 1
    assert _lake_ids(lake_path) == [r[0] for r in _db_rows(db)]


def test_retention_deletes_only_old_rows_already_in_the_lake(
    db: Database, lake_path: Path, clock: ManualClock
) -> None:
    _seed(db, 300)  # 15-minute steps from 4 days ago to 21 hours ago
    add_events(db, [(EventKind.VOTE_CAST, "late", clock.now() - timedelta(seconds=1))])

    result = move_events_to_lake(db, lake_path=lake_path, now=clock.now(), retention_days=3)

    with db.session() as session:
        left = session.scalar(select(func.count()).select_from(Event)) or 0
        oldest = session.scalar(select(func.min(Event.occurred_at)))
    assert result.deleted_from_db > 0
    assert 0 < left == 301 - result.deleted_from_db
    assert oldest is not None
    assert oldest >= clock.now() - timedelta(days=3)
    # Every moved event is still somewhere a query looks: the lake up to the mark.
    assert len(_lake_ids(lake_path)) == 300


def test_empty_database_moves_nothing(db: Database, lake_path: Path, clock: ManualClock) -> None:
    result = move_events_to_lake(db, lake_path=lake_path, now=clock.now())
    assert result.moved == 0
    with db.session() as session:
        assert session.execute(text("SELECT count(*) FROM analytics_lake_marks")).scalar() == 1


def test_a_large_backlog_moves_through_the_columnar_reader_with_the_same_rows(
    db: Database, lake_path: Path, clock: ManualClock
) -> None:
    # Columns NULL in some rows and set in others, text with non-ASCII, JSON properties.
    add_events(
        db,
        (
            (
                EventKind.SHARE_CLICKED if i % 3 else EventKind.VOTE_CAST,
                f"p{i % 11}",
                START - timedelta(days=2) + timedelta(minutes=7 * i),
                {
                    "campaign_id": 1 + i % 2,
                    "channel": None if i % 4 == 0 else "weibo",
                    "activity_id": None if i < 150 else 5,
                    "referrer": f"p{i % 5}" if i % 3 else None,
                    "properties": {"amount": i / 4, "text": "樱花"} if i % 2 else None,
                },
            )
            for i in range(230)
        ),
    )
    with db.session() as session:
        expected = read_events_after(session, after_id=0)

    # On a SQLite file a backlog this size (columnar_from=1) is read by the reader process.
    result = move_events_to_lake(
        db, lake_path=lake_path, now=clock.now(), batch_size=100, columnar_from=1
    )

    assert result.moved == 230
    assert result.batches == 3
    lake = read_lake(lake_path, mark=result.last_id).sort_by("id").drop_columns(["date"])
    assert lake.to_pylist() == expected.to_pylist()


def test_a_reader_process_that_cannot_start_leaves_the_move_to_the_session(
    db: Database,
    lake_path: Path,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _seed(db, 120)
    # The reader process is started with this interpreter; /bin/false exits at once.
    monkeypatch.setattr(sys, "executable", "/bin/false")

    result = move_events_to_lake(
        db, lake_path=lake_path, now=clock.now(), batch_size=50, columnar_from=1
    )

    assert result.moved == 120
    assert _lake_ids(lake_path) == [r[0] for r in _db_rows(db)]
    if db.engine.dialect.name == "sqlite":  # PostgreSQL never starts a reader process
        assert "columnar reader failed" in caplog.text
