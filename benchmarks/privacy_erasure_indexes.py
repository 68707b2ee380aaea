"""Erasure and the participant-column indexes: the same erasures with and without them (issue #20).

    .venv/bin/python benchmarks/privacy_erasure_indexes.py [--quick|--smoke] [--people N]
        [--batch N] [--postgres URL]

A workspace of `--people` persons, each a participant with a device and a participant identity,
a share link, a comment, a conversion (their own, and as the previous person's sharer), a
referral invite (inviting the next person), a referral click, a referral milestone and a
group-buy team they lead: every table whose participant column the migration
`erasure_participant_indexes` indexes holds one row per person.

Measured, in one run on one database, alternating: the indexes dropped, then created again,
twice over (without, with, without, with), each time on people not erased before:
- `batch_*`: `erase_people` of `--batch` people in one transaction (retention's batch of 500);
- `single_*`: `erase_person` of one person, one transaction each (a deletion request), the
  mean of 5.
Erasing deletes the former participants, so the database looks up each of these columns once
per deleted participant (foreign keys ON DELETE CASCADE / SET NULL), besides erasure's own
look-ups by them. Reported: each phase's seconds and the mean of each kind with and without.

`--postgres URL`: the same on PostgreSQL, in a database `im2_bench_erasure_idx` created fresh on
that server. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import Mode, emit, mode_argument, mode_of, target
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignCreate
from im2.db import Base, Database
from im2.domains import import_domain_modules
from im2.migrations import upgrade
from im2.privacy.erasure import erase_people, erase_person
from im2.workspaces import service as workspaces

BENCHMARK = "privacy_erasure_indexes"
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CHUNK = 5_000
SIZES = {Mode.FULL: 200_000, Mode.QUICK: 50_000, Mode.SMOKE: 2_000}
SINGLES = 5
PG_DATABASE = "im2_bench_erasure_idx"
# The indexes of migration 29854d10958c (erasure_participant_indexes).
INDEXED = (
    ("share_links", "participant_id"),
    ("comments", "participant_id"),
    ("conversions", "participant_id"),
    ("conversions", "first_touch_sharer_id"),
    ("conversions", "last_touch_sharer_id"),
    ("experiment_exposures", "participant_id"),
    ("groupbuy_teams", "leader_id"),
    ("referral_invites", "inviter_id"),
    ("referral_invites", "level2_id"),
    ("referral_milestones", "inviter_id"),
    ("referral_clicks", "sharer_id"),
)


def _setup(db: Database, *, n: int) -> int:
    """The workspace, its campaign and activities, and `n` people with a row in every indexed
    table; returns the workspace id."""
    import_domain_modules("models")
    with db.transaction() as session:
        workspaces.do_create_workspace(
            session, slug="bench", name="Bench", timezone="Asia/Shanghai", now=NOW
        )
        actor = workspaces.system_actor(session, workspace_slug="bench")
        campaign = campaigns.do_create_campaign(
            session,
            actor=actor,
            data=CampaignCreate(
                name="Benchmark",
                slug="bench-erasure",
                objective="engagement",
                starts_at=NOW - timedelta(days=30),
                ends_at=NOW + timedelta(days=30),
            ),
            now=NOW - timedelta(days=31),
        )
        ws, cid = actor.workspace_id, campaign.id
        activities = Base.metadata.tables["activities"]
        referral, groupbuy = (
            session.execute(
                insert(activities).returning(activities.c.id),
                {
                    "workspace_id": ws,
                    "campaign_id": cid,
                    "kind": kind,
                    "title": kind,
                    "created_at": NOW,
                    "updated_at": NOW,
                },
            ).scalar_one()
            for kind in ("referral", "groupbuy")
        )
    joined = NOW - timedelta(days=10)
    for start in range(1, n + 1, CHUNK):
        ids = range(start, min(n + 1, start + CHUNK))
        rows = _rows(ids, n=n, ws=ws, cid=cid, referral=referral, groupbuy=groupbuy, at=joined)
        with db.transaction() as session:
            for name, values in rows.items():
                session.execute(insert(Base.metadata.tables[name]), values)
    if db.engine.dialect.name == "postgresql":  # the stand-ins take ids after these
        with db.transaction() as session:
            for table in ("people", "participants"):
                session.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n})")
                )
    return ws


def _rows(
    ids: range, *, n: int, ws: int, cid: int, referral: int, groupbuy: int, at: datetime
) -> dict[str, list[dict[str, Any]]]:
    """One chunk of people's rows, table by table, in an order the foreign keys accept."""
    return {
        "people": [
            {"id": i, "workspace_id": ws, "created_at": at, "several_actors": False} for i in ids
        ],
        "participants": [
            {
                "id": i,
                "workspace_id": ws,
                "device_id": f"dev{i:012d}",
                "consent_version": "2026-03",
                "consent_at": at,
                "created_at": at,
                "first_campaign_id": cid,
            }
            for i in ids
        ],
        "person_identities": [
            {
                "workspace_id": ws,
                "person_id": i,
                "kind": kind,
                "value": value,
                "hint": None,
                "created_at": at,
            }
            for i in ids
            for kind, value in (("device", f"dev{i:012d}"), ("participant", str(i)))
        ],
        "share_links": [
            {
                "workspace_id": ws,
                "campaign_id": cid,
                "participant_id": i,
                "code": f"c{i:010d}",
                "created_at": at,
            }
            for i in ids
        ],
        "comments": [
            {
                "workspace_id": ws,
                "campaign_id": cid,
                "target_type": "campaign",
                "target_id": cid,
                "participant_id": i,
                "text": "好活动",
                "status": "visible",
                "created_at": at,
            }
            for i in ids
        ],
        "conversions": [
            {
                "workspace_id": ws,
                "campaign_id": cid,
                "order_id": f"o{i}",
                "amount": 10,
                "currency": "CNY",
                "occurred_at": at,
                "recorded_at": at,
                "participant_id": i,
                "share_code": f"c{max(1, i - 1):010d}",
                "first_touch_sharer_id": max(1, i - 1),
                "last_touch_sharer_id": max(1, i - 1),
            }
            for i in ids
        ],
        "referral_invites": [
            {
                "activity_id": referral,
                "workspace_id": ws,
                "campaign_id": cid,
                "inviter_id": i,
                "invitee_id": i + 1,
                "share_code": f"c{i:010d}",
                "joined_at": at,
                "status": "pending",
            }
            for i in ids
            if i < n and i + 1 < ids.stop
        ],
        "referral_milestones": [
            {"activity_id": referral, "inviter_id": i, "friends": 1, "reached_at": at} for i in ids
        ],
        "referral_clicks": [
            {"campaign_id": cid, "device_id": f"clk{i:012d}", "sharer_id": i, "first_at": at}
            for i in ids
        ],
        "groupbuy_teams": [
            {
                "activity_id": groupbuy,
                "code": f"t{i:010d}",
                "leader_id": i,
                "size": 3,
                "status": "open",
                "created_at": at,
                "expires_at": at + timedelta(days=1),
            }
            for i in ids
        ],
    }


def _indexes(db: Database, *, present: bool) -> None:
    with db.engine.begin() as conn:
        for table, column in INDEXED:
            name = f"ix_{table}_{column}"
            if present:
                conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})"))
            else:
                conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
        conn.execute(text("ANALYZE"))


def _phase(
    db: Database, *, ws: int, batch: list[int], singles: list[int], tmp: Path
) -> tuple[float, float]:
    """Seconds to erase `batch` in one transaction, and the mean seconds of one `singles`."""
    started = time.perf_counter()
    with db.transaction() as session:
        reports = erase_people(
            session,
            workspace_id=ws,
            person_ids=batch,
            now=NOW,
            lake_path=tmp / "lake",
            media_path=tmp / "media",
            reason="benchmark",
        )
    batch_s = time.perf_counter() - started
    assert len(reports) == len(batch)
    assert not any(r.already_erased for r in reports)
    times = []
    for person in singles:
        started = time.perf_counter()
        with db.transaction() as session:
            erase_person(
                session,
                workspace_id=ws,
                person_id=person,
                now=NOW,
                lake_path=tmp / "lake",
                media_path=tmp / "media",
                reason="benchmark",
            )
        times.append(time.perf_counter() - started)
    return batch_s, statistics.mean(times)


def _pg_database(url: str) -> str:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.execute(text(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"))
        con.execute(text(f"CREATE DATABASE {PG_DATABASE}"))
    admin.dispose()
    return make_url(url).set(database=PG_DATABASE).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode_argument(parser, quick="50,000 people", smoke="2,000 people")
    parser.add_argument("--people", type=int, default=None)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--postgres", default=None, help="a PostgreSQL server URL (a fresh database on it)"
    )
    args = parser.parse_args()
    mode = mode_of(args)
    n = args.people or SIZES[mode]
    batch = min(args.batch, n // 8)
    phases = ("without", "with", "without", "with")
    # People spread over the whole id range, a different slice for each phase.
    step = n // (len(phases) * (batch + SINGLES))
    chosen = list(range(2, n, step))[: len(phases) * (batch + SINGLES)]
    figures: dict[str, Any] = {"people": n, "batch": batch, "singles": SINGLES}
    results: dict[str, list[tuple[float, float]]] = {"without": [], "with": []}
    with tempfile.TemporaryDirectory() as tmp:
        url = _pg_database(args.postgres) if args.postgres else f"sqlite:///{Path(tmp) / 'b.db'}"
        upgrade(url)
        db = Database(url)
        started = time.perf_counter()
        ws = _setup(db, n=n)
        figures["setup_s"] = round(time.perf_counter() - started, 1)
        for k, phase in enumerate(phases):
            _indexes(db, present=phase == "with")
            part = chosen[k * (batch + SINGLES) : (k + 1) * (batch + SINGLES)]
            batch_s, single_s = _phase(
                db, ws=ws, batch=part[:batch], singles=part[batch:], tmp=Path(tmp)
            )
            results[phase].append((batch_s, single_s))
            figures[f"batch_{phase}_{k + 1}_s"] = round(batch_s, 3)
            figures[f"single_{phase}_{k + 1}_s"] = round(single_s, 4)
            print(f"{phase} indexes: batch {batch_s:.3f} s, single {single_s:.4f} s", flush=True)
        db.dispose()
    for phase, runs in results.items():
        figures[f"batch_{phase}_indexes_s"] = round(statistics.mean(b for b, _ in runs), 3)
        figures[f"single_{phase}_indexes_s"] = round(statistics.mean(s for _, s in runs), 4)
    speedup = figures["batch_without_indexes_s"] / max(1e-9, figures["batch_with_indexes_s"])
    figures["batch_speedup"] = round(speedup, 2)
    figures["single_speedup"] = round(
        figures["single_without_indexes_s"] / max(1e-9, figures["single_with_indexes_s"]), 2
    )
    figures["database"] = "postgresql" if args.postgres else "sqlite"
    targets = {
        "batch_with_indexes_s": target(
            figures["batch_with_indexes_s"],
            f"<= batch without ({figures['batch_without_indexes_s']} s)",
            figures["batch_with_indexes_s"] <= figures["batch_without_indexes_s"],
            mode=mode,
        )
    }
    emit(BENCHMARK, figures, targets, mode=mode)


if __name__ == "__main__":
    main()
