"""Privacy benchmark: erasing one person from a lake of 10 million events (issue #20).

    .venv/bin/python benchmarks/privacy.py [--quick|--smoke] [--events N] [--days N]

A Hive-style lake of `--events` events over `--days` UTC days (one file per day, as the move
writes them, 20,000 actors) is written straight with pyarrow next to a migrated SQLite
database whose lake mark covers it; one person (one device actor) has 3 events on each of 3
days. The measured operation is `im2.privacy.lake_rewrite.rewrite_pending`, the lake part of
an erasure: one DuckDB scan to find the files naming the person, then an atomic rewrite of
those files only. The baseline, measured in the same run on the same lake, is the design it
avoids: rewriting every file of the lake (read, replace, write, fsync, rename). Reported:
seconds, files and bytes rewritten against the lake's size. The export target (a person with
10,000 events in <= 5 s) is measured when `im2.privacy.export.build_export` exists.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import Mode, emit, mode_argument, mode_of, target
from im2.analytics.lake import events_dir, lake_files
from im2.db import Database
from im2.events.service import EVENT_ARROW_SCHEMA
from im2.migrations import upgrade
from im2.privacy.erasures.models import Erasure
from im2.privacy.lake_rewrite import rewrite_file, rewrite_pending

BENCHMARK = "privacy"
SIZES = {Mode.FULL: (10_000_000, 30), Mode.QUICK: (1_000_000, 30), Mode.SMOKE: (30_000, 6)}
VICTIM = "d:victim-0000000001"
VICTIM_DAYS = (1, 3, 5)
START = datetime(2026, 1, 1, tzinfo=UTC)


def build_lake(lake: Path, *, events: int, days: int) -> int:
    """One file per day; returns the last id."""
    import numpy as np

    per_day = events // days
    rng = np.random.default_rng(20)
    next_id = 1
    for day in range(days):
        ids = np.arange(next_id, next_id + per_day, dtype=np.int64)
        seconds = np.sort(rng.integers(0, 86_400, per_day))
        day_us = int((START + timedelta(days=day)).timestamp()) * 1_000_000
        times = day_us + seconds * 1_000_000
        actors = np.char.add("d:dev-", rng.integers(0, 20_000, per_day).astype(str))
        actor_list = actors.tolist()
        if day in VICTIM_DAYS:
            for k in range(3):
                actor_list[(k + 1) * per_day // 4] = VICTIM
        table = pa.Table.from_arrays(
            [
                pa.array(ids),
                pa.array(times, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
                pa.array(np.full(per_day, 1, dtype=np.int64)),
                pa.array(np.full(per_day, 1, dtype=np.int64)),
                pa.array(rng.integers(1, 5, per_day).astype(np.int64)),
                pa.array(["visitor"] * per_day, pa.string()),
                pa.array(actor_list, pa.string()),
                pa.array(["campaign.viewed"] * per_day, pa.string()),
                pa.array(["wechat"] * per_day, pa.string()),
                pa.array([None] * per_day, pa.string()),
                pa.array(["{}"] * per_day, pa.string()),
            ],
            schema=EVENT_ARROW_SCHEMA,
        )
        folder = events_dir(lake) / f"date={(START + timedelta(days=day)).date().isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        last = next_id + per_day - 1
        pq.write_table(
            table,
            folder / f"part-{next_id}-{last}.parquet",
            compression="zstd",
            row_group_size=1_000_000,
        )
        next_id = last + 1
    return next_id - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode_argument(parser, quick="1 M events over 30 days", smoke="30,000 events over 6 days")
    parser.add_argument("--events", type=int)
    parser.add_argument("--days", type=int)
    args = parser.parse_args()
    mode = mode_of(args)
    events, days = SIZES[mode]
    events, days = args.events or events, args.days or days
    with tempfile.TemporaryDirectory(prefix="im2-privacy-bench-") as folder:
        root = Path(folder)
        lake = root / "lake"
        url = f"sqlite:///{root / 'bench.db'}"
        upgrade(url)
        db = Database(url)
        t0 = time.perf_counter()
        last_id = build_lake(lake, events=events, days=days)
        build_s = time.perf_counter() - t0
        now = START + timedelta(days=days + 1)
        with db.transaction() as session:
            session.execute(
                text(
                    "INSERT INTO analytics_lake_marks (stream, last_id, moved, updated_at) "
                    "VALUES ('events', :last, :last, :now)"
                ),
                {"last": last_id, "now": now.strftime("%Y-%m-%d %H:%M:%S.%f")},
            )
            session.add(
                Erasure(
                    workspace_id=_workspace(session, now),
                    person_id=1,
                    reason="benchmark",
                    erased_at=now,
                    summary={},
                    lake_pending={
                        "actors": {VICTIM: "d:fresh-0000000001"},
                        "codes": {},
                        "participants": {},
                    },
                )
            )
        files = lake_files(lake)
        lake_bytes = sum(f.stat().st_size for f, _a, _b in files)
        t0 = time.perf_counter()
        result = rewrite_pending(db, lake_path=lake, now=now)
        erase_s = time.perf_counter() - t0
        # Baseline: every file rewritten (the same atomic write), on the same lake.
        everyone = {
            "actors": {f"d:dev-{i}": f"d:x-{i}" for i in range(20_000)},
            "codes": {},
            "participants": {},
        }
        t0 = time.perf_counter()
        for file, _a, _b in files:
            rewrite_file(file, workspace_id=1, pending=everyone)
        baseline_s = time.perf_counter() - t0
    figures = {
        "events": events,
        "days": days,
        "lake_bytes": lake_bytes,
        "build_lake_s": round(build_s, 2),
        "erase_s": round(erase_s, 3),
        "files_rewritten": result.files,
        "files_in_lake": len(files),
        "bytes_rewritten": result.bytes_rewritten,
        "rows_changed": result.rows,
        "baseline_rewrite_all_s": round(baseline_s, 3),
        "speedup_vs_baseline": round(baseline_s / erase_s, 1) if erase_s else None,
    }
    targets = {
        "erase_10m_s": target(
            round(erase_s, 3),
            "<= 30 s at 10 M events",
            erase_s <= 30,
            mode=mode,
            full_size_only=True,
        ),
        "only_their_days": target(
            result.files,
            f"== {len(VICTIM_DAYS)} files",
            result.files == len(VICTIM_DAYS),
            mode=mode,
        ),
    }
    emit(BENCHMARK, figures, targets, mode=mode)


def _workspace(session: Session, now: datetime) -> int:
    session.execute(
        text(
            "INSERT INTO workspaces (id, slug, name, timezone, created_at) "
            "VALUES (1, 'bench', 'Bench', 'UTC', :now)"
        ),
        {"now": now.strftime("%Y-%m-%d %H:%M:%S.%f")},
    )
    return 1


if __name__ == "__main__":
    main()
