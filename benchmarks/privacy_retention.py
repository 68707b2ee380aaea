"""Retention benchmark: one retention run over a workspace of 1 M people (issue #20: ≤ 5 min).

    .venv/bin/python benchmarks/privacy_retention.py [--quick|--smoke] [--people N]
        [--inactive-share F] [--database-url URL]

The workspace holds `--people` persons, each a participant with a device and a participant
identity and an (encrypted) first IP. `--inactive-share` of them were last seen 400 days ago,
the others yesterday; every IP is older than the policy's 30 days. The policy anonymises people
inactive for 365 days and clears IPs after 30 days. The run (`run_retention`) finds the
inactive people among the million, anonymises each through erasure's anonymiser (one committed
transaction each), and clears every IP. The baseline, measured in the same run on the same
database, is the floor of any such run: one pass that reads every person's `last_seen_at` and
every participant row (a `count(*)` of each). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import Mode, emit, mode_argument, mode_of, target
from im2.db import Base, Database
from im2.domains import import_domain_modules
from im2.migrations import upgrade
from im2.privacy.retention import service as retention
from im2.privacy.retention.models import RetentionPolicy
from im2.workspaces import service as workspaces

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CHUNK = 20_000
SIZES = {Mode.FULL: 1_000_000, Mode.QUICK: 100_000, Mode.SMOKE: 2_000}
TARGET_SECONDS = 300.0


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
    return ws.id, inactive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode_argument(parser, quick="100,000 people", smoke="2,000 people")
    parser.add_argument("--people", type=int, default=None)
    parser.add_argument("--inactive-share", type=float, default=0.002)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    mode = mode_of(args)
    n = args.people or SIZES[mode]
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        db = Database(url)
        started = time.perf_counter()
        workspace_id, inactive = _setup(db, n=n, inactive_share=args.inactive_share)
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
            lake_path=Path(tmp) / "lake",
            media_path=Path(tmp) / "media",
            limit=n,
        )
        run_s = time.perf_counter() - started
        assert run is not None
        started = time.perf_counter()
        again = retention.run_retention(
            db,
            workspace_id=workspace_id,
            now=NOW,
            lake_path=Path(tmp) / "lake",
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
