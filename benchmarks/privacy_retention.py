"""Retention benchmark: one retention run over a workspace of 1 M people (issue #20: ≤ 5 min).

    .venv/bin/python benchmarks/privacy_retention.py [--quick|--smoke] [--people N]
        [--inactive-share F] [--postgres URL] [--lake-events N] [--lake-days N]

The workspace holds `--people` persons, each a participant with a device and a participant
identity and an (encrypted) first IP. `--inactive-share` of them were last seen 400 days ago,
the others yesterday; every IP is older than the policy's 30 days. The policy anonymises people
inactive for 365 days and clears IPs after 30 days. The run (`run_retention`) finds the
inactive people among the million, anonymises them in batches through erasure's bulk
anonymiser (`erase_people`: one committed transaction of set-based statements per batch of
500), and clears every IP. The baseline, measured in the same run on the same database, is the
floor of any such run: one pass that reads every person's `last_seen_at` and every participant
row (a `count(*)` of each).

With `--lake-events N`, a Parquet lake of N events over `--lake-days` day files (actors drawn
from all the people's participant ids and devices, so the inactive people's events are in
every file) is written first with the lake's writer (`im2.analytics.lake_layout`, the layout
production's move writes: rows by workspace, actor and id, row groups with statistics), and
the lake part of the run's erasures is timed after it (`rewrite_pending`: one scan and one
rewrite per affected day file for all of them).

`--postgres URL`: the same on PostgreSQL, in a database `im2_bench_retention` created fresh on
that server. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import Mode, emit, mode_argument, mode_of, target
from im2.db import Base, Database
from im2.domains import import_domain_modules
from im2.migrations import upgrade
from im2.privacy.lake_rewrite import rewrite_pending
from im2.privacy.retention import service as retention
from im2.privacy.retention.models import RetentionPolicy
from im2.workspaces import service as workspaces

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CHUNK = 20_000
SIZES = {Mode.FULL: 1_000_000, Mode.QUICK: 100_000, Mode.SMOKE: 2_000}
TARGET_SECONDS = 300.0
PG_DATABASE = "im2_bench_retention"


def _setup(db: Database, *, n: int, inactive_share: float) -> tuple[int, int]:
    """The workspace and its people; returns (workspace id, how many are inactive)."""
    import_domain_modules("models")
    people = Base.metadata.tables["people"]
    participants = Base.metadata.tables["participants"]
    identities = Base.metadata.tables["person_identities"]
    with db.transaction() as session:
        ws = workspaces.do_create_workspace(
            session, slug="bench", name="Bench", timezone="Asia/Shanghai", now=NOW
        )
        session.add(
            RetentionPolicy(
                workspace_id=ws.id,
                inactive_days=365,
                ip_days=30,
                ip_keep="none",
                media_days=None,
                updated_at=NOW,
                updated_by="bench",
            )
        )
    every = max(1, round(1 / inactive_share)) if inactive_share > 0 else n + 1
    inactive = 0
    joined = NOW - timedelta(days=500)
    for start in range(1, n + 1, CHUNK):
        ids = range(start, min(n + 1, start + CHUNK))
        old = [i for i in ids if i % every == 0]
        inactive += len(old)
        with db.transaction() as session:
            session.execute(
                insert(people),
                [
                    {
                        "id": i,
                        "workspace_id": ws.id,
                        "created_at": joined,
                        "several_actors": False,
                        "last_seen_at": NOW - timedelta(days=400 if i % every == 0 else 1),
                    }
                    for i in ids
                ],
            )
            session.execute(
                insert(participants),
                [
                    {
                        "id": i,
                        "workspace_id": ws.id,
                        "device_id": f"dev{i:012d}",
                        "consent_version": "2026-03",
                        "consent_at": joined,
                        "created_at": joined,
                        "first_ip": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
                        "first_campaign_id": None,
                    }
                    for i in ids
                ],
            )
            session.execute(
                insert(identities),
                [
                    {
                        "workspace_id": ws.id,
                        "person_id": i,
                        "kind": kind,
                        "value": value,
                        "hint": None,
                        "created_at": joined,
                    }
                    for i in ids
                    for kind, value in (("device", f"dev{i:012d}"), ("participant", str(i)))
                ],
            )
    if db.engine.dialect.name == "postgresql":  # the stand-ins take ids after these
        with db.transaction() as session:
            for table in ("people", "participants"):
                session.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n})")
                )
    return ws.id, inactive


def _pg_database(url: str) -> str:
    """A fresh database `im2_bench_retention` on the server of `url`; returns its URL."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.execute(text(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"))
        con.execute(text(f"CREATE DATABASE {PG_DATABASE}"))
    admin.dispose()
    return make_url(url).set(database=PG_DATABASE).render_as_string(hide_password=False)


def _lake(
    db: Database, lake: Path, *, workspace_id: int, people: int, events: int, days: int
) -> int:
    """`events` events over `days` day files, each by a random person's participant id or
    device, written by the lake's writer (`write_lake_file`: the layout the move and every
    rewrite write); the lake's mark covers them. Returns the lake's size in bytes."""
    import numpy as np
    import pyarrow as pa

    from im2.analytics.lake import events_dir
    from im2.analytics.lake_layout import write_lake_file
    from im2.events.service import EVENT_ARROW_SCHEMA

    rng = np.random.default_rng(20)
    per_day = events // days
    start = NOW - timedelta(days=days + 400)
    next_id = 1
    size = 0
    for day in range(days):
        who = rng.integers(1, people + 1, per_day)
        device = rng.random(per_day) < 0.5
        actors = np.where(
            device, np.char.add("d:dev", np.char.zfill(who.astype(str), 12)), who.astype(str)
        )
        day_us = int((start + timedelta(days=day)).timestamp()) * 1_000_000
        times = day_us + np.sort(rng.integers(0, 86_400, per_day)) * 1_000_000
        table = pa.Table.from_arrays(
            [
                pa.array(np.arange(next_id, next_id + per_day, dtype=np.int64)),
                pa.array(times, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
                pa.array(np.full(per_day, workspace_id, dtype=np.int64)),
                pa.array(np.full(per_day, 1, dtype=np.int64)),
                pa.array(np.full(per_day, 1, dtype=np.int64)),
                pa.array(np.where(device, "visitor", "participant").tolist(), pa.string()),
                pa.array(actors.tolist(), pa.string()),
                pa.array(["campaign.viewed"] * per_day, pa.string()),
                pa.array(["wechat"] * per_day, pa.string()),
                pa.array([None] * per_day, pa.string()),
                pa.array(["{}"] * per_day, pa.string()),
            ],
            schema=EVENT_ARROW_SCHEMA,
        )
        folder = events_dir(lake) / f"date={(start + timedelta(days=day)).date().isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        last = next_id + per_day - 1
        file = folder / f"part-{next_id}-{last}.parquet"
        write_lake_file(table, file)
        size += file.stat().st_size
        next_id = last + 1
    with db.transaction() as session:
        session.execute(
            text(
                "INSERT INTO analytics_lake_marks (stream, last_id, moved, updated_at) "
                "VALUES ('events', :last, :last, :now)"
            ),
            {"last": next_id - 1, "now": NOW},
        )
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode_argument(parser, quick="100,000 people", smoke="2,000 people")
    parser.add_argument("--people", type=int, default=None)
    parser.add_argument("--inactive-share", type=float, default=0.002)
    parser.add_argument(
        "--postgres", default=None, help="a PostgreSQL server URL (a fresh database on it)"
    )
    parser.add_argument("--lake-events", type=int, default=0)
    parser.add_argument("--lake-days", type=int, default=30)
    args = parser.parse_args()
    mode = mode_of(args)
    n = args.people or SIZES[mode]
    with tempfile.TemporaryDirectory() as tmp:
        url = _pg_database(args.postgres) if args.postgres else f"sqlite:///{Path(tmp) / 'b.db'}"
        upgrade(url)
        db = Database(url)
        lake_path = Path(tmp) / "lake"
        started = time.perf_counter()
        workspace_id, inactive = _setup(db, n=n, inactive_share=args.inactive_share)
        lake_bytes = 0
        if args.lake_events:
            lake_bytes = _lake(
                db,
                lake_path,
                workspace_id=workspace_id,
                people=n,
                events=args.lake_events,
                days=args.lake_days,
            )
        setup_s = time.perf_counter() - started

        people = Base.metadata.tables["people"]
        participants = Base.metadata.tables["participants"]
        started = time.perf_counter()
        with db.session() as session:
            session.execute(
                select(func.count()).where(people.c.last_seen_at < NOW - timedelta(days=365))
            ).scalar_one()
            session.execute(select(func.count()).select_from(participants)).scalar_one()
        baseline_s = time.perf_counter() - started

        started = time.perf_counter()
        run = retention.run_retention(
            db,
            workspace_id=workspace_id,
            now=NOW,
            lake_path=lake_path,
            media_path=Path(tmp) / "media",
            limit=n,
        )
        run_s = time.perf_counter() - started
        assert run is not None
        lake_s = None
        rewrite = None
        if args.lake_events:
            started = time.perf_counter()
            rewrite = rewrite_pending(db, lake_path=lake_path, now=NOW)
            lake_s = time.perf_counter() - started
        started = time.perf_counter()
        again = retention.run_retention(
            db,
            workspace_id=workspace_id,
            now=NOW,
            lake_path=lake_path,
            media_path=Path(tmp) / "media",
            limit=n,
        )
        rerun_s = time.perf_counter() - started
        assert again is not None
        with db.session() as session:
            left = session.execute(
                text("SELECT count(*) FROM participants WHERE first_ip IS NOT NULL")
            ).scalar_one()
        db.dispose()
    correct = (
        run.people_anonymised == inactive
        and run.ips_truncated == n
        and run.failures == 0
        and left == 0
        and (again.people_anonymised, again.ips_truncated) == (0, 0)
        and (rewrite is None or rewrite.erasures == run.people_anonymised)
    )
    figures = {
        "people": n,
        "inactive_people": inactive,
        "people_anonymised": run.people_anonymised,
        "ips_cleared": run.ips_truncated,
        "failures": run.failures,
        "setup_s": round(setup_s, 1),
        "run_s": round(run_s, 2),
        "rerun_s": round(rerun_s, 2),
        "baseline_full_scan_s": round(baseline_s, 3),
        "ratio_to_baseline": round(run_s / baseline_s, 1) if baseline_s else None,
        "per_anonymised_person_ms": round(1000 * run_s / max(1, run.people_anonymised), 2),
        "database": "postgresql" if args.postgres else "sqlite",
        "lake_events": args.lake_events,
        "lake_bytes": lake_bytes,
        "lake_rewrite_s": None if lake_s is None else round(lake_s, 2),
        "lake_erasures_closed": None if rewrite is None else rewrite.erasures,
        "lake_files_rewritten": None if rewrite is None else rewrite.files,
        "lake_rows_changed": None if rewrite is None else rewrite.rows,
        "lake_bytes_rewritten": None if rewrite is None else rewrite.bytes_rewritten,
        "correct": correct,
    }
    targets = {
        "retention_run_1m_people_s": target(
            round(run_s, 2),
            f"<= {TARGET_SECONDS:g} s for 1 M people",
            run_s <= TARGET_SECONDS and correct,
            mode=mode,
            full_size_only=True,
        ),
        "rerun_does_nothing": target(
            (again.people_anonymised, again.ips_truncated) == (0, 0),
            "a second run anonymises and clears nothing",
            (again.people_anonymised, again.ips_truncated) == (0, 0),
            mode=mode,
        ),
    }
    emit("privacy_retention", figures, targets, mode=mode)


if __name__ == "__main__":
    main()
