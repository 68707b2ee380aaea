"""Erasure's own writes in a batch: stand-ins, records, webhook deliveries (issue #20).

    .venv/bin/python benchmarks/privacy_erasure_writes.py [--quick|--smoke] [--people N]
        [--batch N] [--events N] [--postgres URL]

The world of `benchmarks/privacy_erasure_indexes.py` (every person a participant with a row in
each indexed table, the indexes in place), and besides: a webhook endpoint, and per person
`--events` events in the database (their votes), each delivered once to the endpoint. Then 3
batches of `--batch` people (retention's 500), each `erase_people` in one transaction, on people
spread over the whole id range. Measured per batch: the seconds, and the statements sent to the
database (each batch of an executemany or a multi-row insert counted once), in all and for the
steps this benchmark is about: the INSERTs of the stand-in people and participants and of the
erasure records, and the reads and UPDATEs of `webhook_deliveries`; and the seconds spent in
those steps (`stand_ins`, `_record` and the delivery scrub of `im2.privacy.erasure`, timed by
wrapping them), the median of the batches.

The targets: those steps take a few statements per batch, not one per person (at most 10 each
for a batch of 500). Compare checkouts by running this in each, one right after the other.

`--postgres URL`: the same on PostgreSQL, in a database `im2_bench_erasure_writes` created fresh
on that server. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import privacy_erasure_indexes as world
from benchmarks._common import Mode, emit, mode_argument, mode_of, target
from im2.db import Base, Database
from im2.migrations import upgrade
from im2.privacy import erasure
from im2.privacy.erasure import erase_people

BENCHMARK = "privacy_erasure_writes"
SIZES = {Mode.FULL: 200_000, Mode.QUICK: 50_000, Mode.SMOKE: 4_000}
ROUNDS = 3
STEP_STATEMENTS = 10
# The steps timed apart (`im2.privacy.erasure`'s names for them, whichever it has).
TIMED = {
    "stand_ins": "stand_ins",
    "_record": "records",
    "scrub_deliveries": "deliveries_scrub",
    "scrub_group_deliveries": "deliveries_scrub",
}
# The steps counted apart: a statement's start → its step.
STEPS = {
    "INSERT INTO people ": "stand_in_people",
    "INSERT INTO participants ": "stand_in_participants",
    "INSERT INTO privacy_erasures ": "records",
    "SELECT webhook_deliveries.": "deliveries_read",
    "UPDATE webhook_deliveries ": "deliveries_update",
}


def _deliveries(db: Database, *, ws: int, people: list[int], per_person: int) -> int:
    """A webhook endpoint, and `per_person` events of each of these people (participant id =
    person id in this world), each with one delivery; returns how many deliveries."""
    events = Base.metadata.tables["events"]
    endpoints = Base.metadata.tables["webhook_endpoints"]
    deliveries = Base.metadata.tables["webhook_deliveries"]
    at = world.NOW - timedelta(days=2)
    with db.transaction() as session:
        endpoint = session.execute(
            insert(endpoints).returning(endpoints.c.id),
            {
                "workspace_id": ws,
                "url": "https://hooks.example.com/im2",
                "secret": "whsec_benchmark",
                "kinds": ["vote.cast"],
                "active": True,
                "created_at": at,
                "updated_at": at,
            },
        ).scalar_one()
        session.execute(
            insert(events),
            [
                {
                    "occurred_at": at,
                    "workspace_id": ws,
                    "actor_type": "participant",
                    "actor_id": str(p),
                    "kind": "vote.cast",
                    "channel": "wechat",
                    "properties": {"option": k},
                }
                for p in people
                for k in range(per_person)
            ],
        )
        rows = session.execute(
            select(events.c.id, events.c.actor_id, events.c.properties).where(
                events.c.kind == "vote.cast"
            )
        ).all()
        session.execute(
            insert(deliveries),
            [
                {
                    "workspace_id": ws,
                    "endpoint_id": endpoint,
                    "event_id": event_id,
                    "kind": "vote.cast",
                    "payload": {
                        "id": event_id,
                        "kind": "vote.cast",
                        "actor": {"type": "participant", "id": actor},
                        "referrer": None,
                        "properties": properties,
                    },
                    "status": "delivered",
                    "created_at": at,
                    "last_response": '{"ok": true}',
                }
                for event_id, actor, properties in rows
            ],
        )
    return len(rows)


def _time_steps(spent: dict[str, float]) -> None:
    """Wrap erasure's steps named in TIMED to add their seconds to `spent`."""

    def timed(function: Any, name: str) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - started

        return run

    for attribute, name in TIMED.items():
        if hasattr(erasure, attribute):
            setattr(erasure, attribute, timed(getattr(erasure, attribute), name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode_argument(parser, quick="50,000 people", smoke="4,000 people")
    parser.add_argument("--people", type=int, default=None)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--events", type=int, default=3, help="events (deliveries) per person")
    parser.add_argument(
        "--postgres", default=None, help="a PostgreSQL server URL (a fresh database on it)"
    )
    args = parser.parse_args()
    mode = mode_of(args)
    n = args.people or SIZES[mode]
    batch = min(args.batch, n // (ROUNDS + 1))
    step = n // (ROUNDS * batch)
    chosen = list(range(2, n, step))[: ROUNDS * batch]
    figures: dict[str, Any] = {"people": n, "batch": batch, "events_per_person": args.events}
    world.PG_DATABASE = "im2_bench_erasure_writes"
    with tempfile.TemporaryDirectory() as tmp:
        url = world._pg_database(args.postgres) if args.postgres else f"sqlite:///{tmp}/b.db"
        upgrade(url)
        db = Database(url)
        started = time.perf_counter()
        ws = world._setup(db, n=n)
        figures["deliveries"] = _deliveries(db, ws=ws, people=chosen, per_person=args.events)
        figures["setup_s"] = round(time.perf_counter() - started, 1)
        counts: Counter[str] = Counter()
        spent: dict[str, float] = {}
        _time_steps(spent)

        @event.listens_for(db.engine, "before_cursor_execute")
        def _count(*call: Any) -> None:
            statement = str(call[2]).lstrip()
            counts["all"] += 1
            for start, name in STEPS.items():
                if statement.startswith(start):
                    counts[name] += 1

        seconds: list[float] = []
        per_batch: list[Counter[str]] = []
        scrubbed = 0
        steps: list[dict[str, float]] = []
        for k in range(ROUNDS):
            counts.clear()
            spent.clear()
            started = time.perf_counter()
            with db.transaction() as session:
                reports = erase_people(
                    session,
                    workspace_id=ws,
                    person_ids=chosen[k * batch : (k + 1) * batch],
                    now=world.NOW,
                    lake_path=Path(tmp) / "lake",
                    media_path=Path(tmp) / "media",
                    reason="benchmark",
                )
            seconds.append(time.perf_counter() - started)
            per_batch.append(Counter(counts))
            steps.append(dict(spent))
            scrubbed += sum(r.webhook_deliveries_scrubbed for r in reports)
            print(f"batch {k + 1}: {seconds[-1]:.3f} s, {counts['all']} statements", flush=True)
        with db.session() as session:
            left = session.execute(
                text("SELECT count(*) FROM webhook_deliveries WHERE last_response IS NOT NULL")
            ).scalar_one()
        db.dispose()
    for k, s in enumerate(seconds):
        figures[f"batch_{k + 1}_s"] = round(s, 3)
    figures["batch_median_s"] = round(statistics.median(seconds), 3)
    for name in ("all", *STEPS.values()):
        figures[f"{name}_statements"] = max(c[name] for c in per_batch)
    for name in sorted(set(TIMED.values())):
        figures[f"{name}_median_s"] = round(statistics.median(c.get(name, 0.0) for c in steps), 4)
    figures["deliveries_scrubbed"] = scrubbed
    figures["database"] = "postgresql" if args.postgres else "sqlite"
    correct = scrubbed == figures["deliveries"] and left == 0
    figures["correct"] = correct
    inserts = max(
        figures[f"{name}_statements"]
        for name in ("stand_in_people", "stand_in_participants", "records")
    )
    scrubs = figures["deliveries_read_statements"] + figures["deliveries_update_statements"]
    targets = {
        "stand_in_and_record_inserts_per_batch": target(
            inserts,
            f"<= {STEP_STATEMENTS} statements per step for a batch of {batch}",
            inserts <= STEP_STATEMENTS and correct,
            mode=mode,
        ),
        "delivery_scrub_statements_per_batch": target(
            scrubs,
            f"<= {STEP_STATEMENTS} for a batch of {batch}",
            scrubs <= STEP_STATEMENTS and correct,
            mode=mode,
        ),
    }
    emit(BENCHMARK, figures, targets, mode=mode)


if __name__ == "__main__":
    main()
