"""A lake rewrite killed with SIGKILL (mid-file, or between files) loses no one else's events,
leaves no partial file where readers look, and the next run finishes it (SQLite and
PostgreSQL: the child opens the test database by its URL)."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import insert, select

from im2.analytics.lake import lake_files, lake_glob, move_events_to_lake
from im2.clock import ManualClock
from im2.db import Database
from im2.events.models import Event
from im2.privacy.erasures.models import Erasure
from im2.privacy.lake_rewrite import TMP_PREFIX, rewrite_pending
from tests.conftest import Brand

VICTIM = "d:victim-device-0001"
NEW = "d:fresh-random-0001"

_KILLED = """
import sys, time
from pathlib import Path
from datetime import datetime
from im2.db import Database
from im2.privacy import lake_rewrite

where = sys.argv[4]
if where == "mid-file":
    real = lake_rewrite.pq.write_table
    def half(table, handle, **kw):
        real(table.slice(0, max(1, table.num_rows // 2)), handle, **kw)
        handle.flush()
        print("stalled", flush=True)
        time.sleep(60)
    lake_rewrite.pq.write_table = half
    after = None
else:
    def after(path):
        print("stalled", flush=True)
        time.sleep(60)

db = Database(sys.argv[1])
lake_rewrite.rewrite_pending(db, lake_path=Path(sys.argv[2]),
                             now=datetime.fromisoformat(sys.argv[3]), after_file=after)
"""


def _seed(db: Database, brand: Brand, clock: ManualClock, lake: Path) -> None:
    """Four days of events of 20 people; the victim acts on days 1 and 3."""
    start = clock.now() - timedelta(days=5)
    rows = []
    for day in range(4):
        for i in range(200):
            actor = VICTIM if (day in (1, 3) and i % 50 == 0) else f"d:other-{i % 20}"
            rows.append(
                {
                    "occurred_at": start + timedelta(days=day, minutes=i),
                    "workspace_id": brand.workspace_id,
                    "campaign_id": None,
                    "activity_id": None,
                    "actor_type": "visitor",
                    "actor_id": actor,
                    "kind": "campaign.viewed",
                    "channel": "wechat",
                    "referrer": None,
                    "properties": {},
                }
            )
    with db.transaction() as session:
        session.execute(insert(Event), rows)
        session.add(
            Erasure(
                workspace_id=brand.workspace_id,
                person_id=12345,
                reason="test",
                erased_at=clock.now(),
                summary={},
                lake_pending={"actors": {VICTIM: NEW}, "codes": {}, "participants": {}},
            )
        )
    clock.advance(timedelta(minutes=1))  # the brand's own events are settled too
    moved = move_events_to_lake(db, lake_path=lake, now=clock.now(), settle_seconds=0)
    assert moved.moved >= 800, moved


def _lake(lake: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for file, _first, _last in sorted(lake_files(lake)):
        rows.extend(pq.read_table(file).to_pylist())  # every visible file reads whole
    return rows


def _others(rows: list[dict[str, object]]) -> Counter[tuple[object, ...]]:
    return Counter(
        (r["id"], r["actor_id"], r["occurred_at"])
        for r in rows
        if r["actor_id"] not in (VICTIM, NEW)
    )


@pytest.mark.parametrize("where", ["mid-file", "between-files"])
def test_a_rewrite_killed_loses_nothing_and_resumes(
    db: Database, brand: Brand, clock: ManualClock, tmp_path: Path, where: str
) -> None:
    lake = tmp_path / "lake"
    _seed(db, brand, clock, lake)
    before = _lake(lake)
    untouched = {
        str(f): f.stat().st_mtime_ns
        for f, _a, _b in lake_files(lake)
        if VICTIM not in {r["actor_id"] for r in pq.read_table(f).to_pylist()}
    }
    assert len(lake_files(lake)) == 5  # four days, and the brand's own events today
    assert untouched  # days without the victim exist, and must not be rewritten

    args = [db.url, str(lake), clock.now().isoformat(), where]
    with subprocess.Popen(
        [sys.executable, "-c", _KILLED, *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    ) as child:
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "stalled"
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    # After the kill: every file a reader sees is whole, nobody else's event is lost.
    visible = sorted(Path(p) for p in glob.glob(lake_glob(lake)))
    assert all(not p.name.startswith(".") for p in visible)
    crashed = _lake(lake)
    assert _others(crashed) == _others(before)
    assert len(crashed) == len(before)
    with db.session() as session:
        assert session.scalar(select(Erasure.lake_pending)) is not None  # not done yet

    result = rewrite_pending(db, lake_path=lake, now=clock.now())
    after = _lake(lake)
    assert result.erasures == 1
    assert _others(after) == _others(before)
    assert len(after) == len(before)
    assert VICTIM not in {r["actor_id"] for r in after}
    assert sum(r["actor_id"] == NEW for r in after) == sum(r["actor_id"] == VICTIM for r in before)
    assert not list(lake.rglob(f"{TMP_PREFIX}*"))
    # Only the victim's days were rewritten.
    for file, mtime in untouched.items():
        assert Path(file).stat().st_mtime_ns == mtime
    with db.session() as session:
        assert session.scalar(select(Erasure.lake_pending)) is None
    # Running again finds nothing to do.
    again = rewrite_pending(db, lake_path=lake, now=clock.now())
    assert again.erasures == 0
    assert again.files == 0
