"""`im2 analytics move` killed with SIGKILL in the middle of a move, then run again.

The operator's view: whatever moment a move dies at, running it again leaves the lake an exact
copy of the event log (every event once, nothing half-written, nothing above the mark). The
kill is chosen by progress (once a few batches' Parquet files are in the lake), not by a timer.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.dataset as ds
from sqlalchemy import insert, select

from im2.analytics.lake import get_mark, lake_files
from im2.db import Database
from im2.events.models import Event
from im2.events.schemas import ActorType, EventKind
from tests.conftest import repo_root

SEED = 10_000
EVENTS = 160_000  # SEED doubled four times
BATCH = 5_000  # 32 batches: the move runs on well after its first file
DAYS = 6
KILL_AT_FILES = 8  # a batch writes one file per day it spans: a few batches in


def _im2() -> list[str]:
    script = Path(sys.executable).with_name("im2")
    if script.exists():
        return [str(script)]
    found = shutil.which("im2")
    assert found, "the im2 command is not installed (pip install -e .)"
    return [found]


def _move(
    db: Database, lake_path: Path, workdir: Path, *, batch_size: int | None = None
) -> subprocess.Popen[bytes]:
    """`im2 analytics move` as an operator runs it, in a process group of its own (the mover
    may start a reader process; a crash takes both)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IM2_")}
    env.update(
        IM2_ENV="test",
        IM2_DATABASE_URL=db.url,
        IM2_LAKE_PATH=str(lake_path),
        PYTHONPATH=str(repo_root()),
    )
    with (workdir / "move.log").open("ab") as log:
        return subprocess.Popen(
            [*_im2(), "analytics", "move"]
            + ([] if batch_size is None else ["--batch-size", str(batch_size)]),
            env=env,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )


def _seed(db: Database) -> None:
    """SEED events spread over DAYS days, then copied in the database until there are EVENTS
    (new ids, the same columns): quicker than sending every row from Python."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=DAYS, hours=1)
    step = timedelta(days=DAYS) / SEED
    rows = [
        {
            "occurred_at": start + step * i,
            "workspace_id": 1,
            "campaign_id": 1 + i % 3,
            "activity_id": None,
            "actor_type": ActorType.PARTICIPANT.value,
            "actor_id": f"p{i % 997}",
            "kind": EventKind.VOTE_CAST.value,
            "channel": "wechat" if i % 2 else None,
            "referrer": None,
            "properties": {"option": i % 4, "text": "樱花"},
        }
        for i in range(SEED)
    ]
    columns = [getattr(Event, name) for name in rows[0]]
    with db.engine.begin() as conn:
        conn.execute(insert(Event), rows)
        for _ in range((EVENTS // SEED).bit_length() - 1):
            conn.execute(insert(Event).from_select(list(rows[0]), select(*columns)))


def _lake_ids(lake_path: Path) -> list[int]:
    dataset = ds.dataset(lake_path / "events", format="parquet", partitioning="hive")
    return sorted(dataset.to_table(columns=["id"]).column("id").to_pylist())


def test_a_move_killed_midway_resumes_to_an_exact_copy(
    db: Database, lake_path: Path, tmp_path: Path
) -> None:
    _seed(db)
    with db.session() as session:
        source = list(session.scalars(select(Event.id).order_by(Event.id)))
    assert len(source) == EVENTS

    mover = _move(db, lake_path, tmp_path, batch_size=BATCH)
    try:
        deadline = time.monotonic() + 120
        while len(lake_files(lake_path)) < KILL_AT_FILES:
            assert mover.poll() is None, (tmp_path / "move.log").read_text()
            assert time.monotonic() < deadline, "no lake file after 120 s"
            time.sleep(0.002)
    finally:
        os.killpg(mover.pid, signal.SIGKILL)
        mover.wait(timeout=30)
    assert mover.returncode == -signal.SIGKILL

    with db.session() as session:
        mark = get_mark(session)
    assert mark < source[-1], "the move had finished before the kill"

    # Finished with the default batch size, as the background job would: the killed batch's
    # files have other bounds than the batches that replace them, so they must be removed.
    resumed = _move(db, lake_path, tmp_path)
    assert resumed.wait(timeout=120) == 0, (tmp_path / "move.log").read_text()

    with db.session() as session:
        assert get_mark(session) == source[-1]
    assert _lake_ids(lake_path) == source  # every event, each once
    assert all(last <= source[-1] for _file, _first, last in lake_files(lake_path))
    assert not list((lake_path / "events").glob("date=*/.*")), "a temporary file was left"
    # And the database still holds every row (no retention was asked for).
    with db.session() as session:
        assert list(session.scalars(select(Event.id).order_by(Event.id))) == source
