"""A lake rewrite done by another process (the job's worker) reaches this process's kept
dashboard rollups: they held the erased person's old actor id, and the next query here
rebuilds them from the rewritten files (SQLite and PostgreSQL: the child opens the test
database by its URL)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from im2.analytics import query
from im2.analytics.lake import get_mark, move_events_to_lake
from im2.analytics.query import committed_files, lake_events_of, warm_rollups
from im2.analytics.rollup import LAKE_ROLLUPS
from im2.clock import ManualClock
from im2.db import Database
from im2.events.models import Event
from im2.privacy.erasures.models import Erasure
from tests.conftest import Brand

VICTIM = "d:victim-rollup-0001"
NEW = "d:fresh-rollup-0001"
CAMPAIGN = 4242

_REWRITE = """
import sys
from datetime import datetime
from pathlib import Path
from im2.db import Database
from im2.privacy.lake_rewrite import rewrite_pending

result = rewrite_pending(Database(sys.argv[1]), lake_path=Path(sys.argv[2]),
                         now=datetime.fromisoformat(sys.argv[3]))
print(result.files, flush=True)
"""


def _seed(db: Database, brand: Brand, clock: ManualClock, lake: Path) -> None:
    start = clock.now() - timedelta(days=3)
    rows = [
        {
            "occurred_at": start + timedelta(days=day, minutes=i),
            "workspace_id": brand.workspace_id,
            "campaign_id": CAMPAIGN,
            "activity_id": None,
            "actor_type": "visitor",
            "actor_id": VICTIM if i % 25 == 0 else f"d:other-{i % 10}",
            "kind": "campaign.viewed",
            "channel": "wechat",
            "referrer": None,
            "properties": {},
        }
        for day in range(2)
        for i in range(100)
    ]
    with db.transaction() as session:
        session.execute(insert(Event), rows)
        session.add(
            Erasure(
                workspace_id=brand.workspace_id,
                person_id=54321,
                reason="test",
                erased_at=clock.now(),
                summary={},
                lake_pending={"actors": {VICTIM: NEW}, "codes": {}, "participants": {}},
            )
        )
    clock.advance(timedelta(minutes=1))
    moved = move_events_to_lake(db, lake_path=lake, now=clock.now(), settle_seconds=0)
    assert moved.moved >= 200, moved


def _kept_rows(lake: Path, mark: int, actor: str) -> int:
    """Rows of `actor` in the rollup this process keeps for the campaign (as a dashboard
    request reads it, without looking for rewrites)."""
    con = query._connection()
    try:
        people, _hours, release = LAKE_ROLLUPS.acquire(
            con,
            key=(str(lake), CAMPAIGN, "UTC"),
            mark=mark,
            files=[f for f, _d in committed_files(lake, mark=mark)],
            events_of=lake_events_of(CAMPAIGN, "UTC"),
        )
        try:
            found = con.execute(
                f"SELECT count(*) FROM {people} WHERE actor_id = ?",  # noqa: S608
                [actor],
            ).fetchone()
            assert found is not None
            return int(found[0])
        finally:
            release()
    finally:
        con.close()


def test_a_rewrite_in_another_process_reaches_the_kept_rollups_here(
    db: Database, brand: Brand, clock: ManualClock, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    _seed(db, brand, clock, lake)
    with db.session() as session:
        mark = get_mark(session)
    assert warm_rollups(lake_path=lake, mark=mark, campaigns=[(CAMPAIGN, "UTC")])
    assert _kept_rows(lake, mark, VICTIM) == 2  # one row per day they were seen
    assert _kept_rows(lake, mark, NEW) == 0

    child = subprocess.run(
        [sys.executable, "-c", _REWRITE, db.url, str(lake), clock.now().isoformat()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.split()[-1] == "2"  # both days' files rewritten, by the other process

    # Nothing told this process yet: its kept rollup still holds the old id.
    assert _kept_rows(lake, mark, VICTIM) == 2
    # Its next query (a dashboard request, or the warm-up job) looks at the lake first, drops
    # the kept rollups and rebuilds them from the rewritten files.
    assert warm_rollups(lake_path=lake, mark=mark, campaigns=[(CAMPAIGN, "UTC")])
    assert _kept_rows(lake, mark, VICTIM) == 0
    assert _kept_rows(lake, mark, NEW) == 2
