"""People benchmark: merging a person who has 1,000 events into another, as the brand does it
through the API (one committed transaction: lock both, move the identities, record the merge
and its audit entry), and undoing it.

    .venv/bin/python benchmarks/people.py [--quick|--smoke] [--people N] [--merges N]
        [--database-url URL]

The workspace holds `--people` persons (device and participant identities each, a tenth with
a verified phone), so the identity index has a realistic size; each merged person has 1,000
events in the event log under their participant id. A merge moves identities and never
rewrites events (analytics maps actors to persons when it counts), so its time does not grow
with the person's events. Two baselines are measured in the same run on the same database:
the floor of any write (a transaction that updates one row and commits: on SQLite one
synchronous WAL commit), and the design a merge avoids, re-keying the merged person's 1,000
events (`UPDATE events SET actor_id = …`, one transaction). The last line printed is one JSON
object. The 1 M people targets of issue 19 (segments, ladder, list search) come with those
features.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import Mode, emit, mode_argument, mode_of, target
from im2.db import Database
from im2.events.models import Event
from im2.migrations import upgrade
from im2.people import service as people
from im2.people.schemas import IdentityKind
from im2.workspaces import service as workspaces

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
EVENTS_PER_PERSON = 1_000
CHUNK = 5_000
SECRET = "benchmark-secret-key-0123456789-abcdefghijklmnop"


def _ms(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(p95 * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def _setup(db: Database, *, n_people: int, merges: int) -> tuple[str, int, list[tuple[int, int]]]:
    """A workspace with `n_people` persons; returns (slug, workspace id, [(merged, kept)])
    where each merged person has EVENTS_PER_PERSON events."""
    slug = f"bench-people-{time.time_ns()}"
    with db.transaction() as session:
        ws = workspaces.do_create_workspace(
            session, slug=slug, name="Bench", timezone="Asia/Shanghai", now=NOW
        )
    mapping: dict[int, int] = {}
    base = 1_000_000_000 + (time.time_ns() % 1_000_000) * 1_000  # fake participant ids
    for start in range(0, n_people, CHUNK):
        with db.transaction() as session:
            joined = [
                (base + i, f"dev-{slug}-{i}") for i in range(start, min(n_people, start + CHUNK))
            ]
            mapping.update(
                people.do_attach_participants(
                    session, workspace_id=ws.id, joined=joined, now=NOW + timedelta(seconds=start)
                )
            )
            for pid, person_id in list(mapping.items())[-len(joined) :]:
                if pid % 10 == 0:
                    people.do_add_identity(
                        session,
                        workspace_id=ws.id,
                        person_id=person_id,
                        kind=IdentityKind.PHONE,
                        value=f"139{pid % 100_000_000:08d}",
                        secret=SECRET,
                        actor="benchmark",
                        now=NOW,
                    )
    pids = list(mapping)
    pairs = []
    for k in range(merges):
        merged_pid, kept_pid = pids[-(2 * k + 1)], pids[-(2 * k + 2)]
        pairs.append((mapping[merged_pid], mapping[kept_pid]))
        with db.transaction() as session:
            session.execute(
                insert(Event),
                [
                    {
                        "occurred_at": NOW + timedelta(seconds=j),
                        "workspace_id": ws.id,
                        "campaign_id": None,
                        "activity_id": None,
                        "actor_type": "participant",
                        "actor_id": str(merged_pid),
                        "kind": "vote.cast",
                        "channel": None,
                        "referrer": None,
                        "properties": {},
                    }
                    for j in range(EVENTS_PER_PERSON)
                ],
            )
    return slug, ws.id, pairs


def run(n_people: int, merges: int, url: str | None, mode: Mode) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db_url = url or f"sqlite:///{Path(tmp) / 'people.db'}"
        upgrade(db_url)
        db = Database(db_url)
        try:
            t = time.perf_counter()
            slug, ws_id, pairs = _setup(db, n_people=n_people, merges=merges)
            setup_s = time.perf_counter() - t
            with db.session() as session:
                actor = workspaces.system_actor(session, workspace_slug=slug)

            # Baseline 1: the floor of any committed write.
            floor: list[float] = []
            for _ in range(merges):
                t = time.perf_counter()
                with db.transaction() as session:
                    session.execute(
                        text("UPDATE workspaces SET name = name WHERE id = :id"), {"id": ws_id}
                    )
                floor.append(time.perf_counter() - t)

            # The merges, as the API runs them: one transaction each.
            merge_s: list[float] = []
            merge_ids: list[int] = []
            for merged, kept in pairs:
                t = time.perf_counter()
                with db.transaction() as session:
                    done = people.do_merge_people(
                        session, actor=actor, person_id=merged, into_id=kept, now=NOW
                    )
                merge_s.append(time.perf_counter() - t)
                merge_ids.append(done.id)
            undo_s: list[float] = []
            for merge_id in merge_ids:
                t = time.perf_counter()
                with db.transaction() as session:
                    people.do_undo_merge(session, actor=actor, merge_id=merge_id, now=NOW)
                undo_s.append(time.perf_counter() - t)

            # Baseline 2: what a merge would cost if it re-keyed the person's events.
            rekey: list[float] = []
            for merged, kept in pairs:
                with db.session() as session:
                    pid = session.execute(
                        text(
                            "SELECT value FROM person_identities "
                            "WHERE person_id = :p AND kind = 'participant'"
                        ),
                        {"p": merged},
                    ).scalar_one()
                t = time.perf_counter()
                with db.transaction() as session:
                    moved = cast(
                        CursorResult[Any],
                        session.execute(
                            text("UPDATE events SET actor_id = :to WHERE actor_id = :frm"),
                            {"to": f"p:{kept}", "frm": pid},
                        ),
                    ).rowcount
                rekey.append(time.perf_counter() - t)
                assert moved == EVENTS_PER_PERSON, moved
            with db.session() as session:
                identities = session.execute(
                    text("SELECT count(*) FROM person_identities WHERE workspace_id = :w"),
                    {"w": ws_id},
                ).scalar_one()
        finally:
            db.dispose()
    merge, undo, floor_ms, rekey_ms = _ms(merge_s), _ms(undo_s), _ms(floor), _ms(rekey)
    p95 = merge["p95_ms"]
    return {
        "figures": {
            "database": db_url.split(":")[0],
            "people": n_people,
            "identities": identities,
            "merges": merges,
            "events_per_merged_person": EVENTS_PER_PERSON,
            "setup_s": round(setup_s, 1),
            "merge": merge,
            "undo": undo,
            "baseline_commit_floor": floor_ms,
            "baseline_rekey_events": rekey_ms,
            "merge_vs_commit_floor_p50": round(merge["p50_ms"] / max(floor_ms["p50_ms"], 1e-6), 2),
            "merge_vs_rekey_events_p50": round(merge["p50_ms"] / max(rekey_ms["p50_ms"], 1e-6), 2),
        },
        "targets": {
            "merge_1000_events_p95_ms": target(p95, "<= 100 ms", p95 <= 100, mode=mode),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode_argument(
        parser,
        quick="20,000 people, 30 merges (under a minute)",
        smoke="1,000 people, 5 merges",
    )
    parser.add_argument("--people", type=int, default=None)
    parser.add_argument("--merges", type=int, default=None)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    mode = mode_of(args)
    n_people = args.people or {Mode.FULL: 200_000, Mode.QUICK: 20_000, Mode.SMOKE: 1_000}[mode]
    merges = args.merges or {Mode.FULL: 100, Mode.QUICK: 30, Mode.SMOKE: 5}[mode]
    if merges < 1 or n_people < 2 * merges:
        parser.error("need at least one merge and two people per merge")
    result = run(n_people, merges, args.database_url, mode)
    emit("people", result["figures"], result["targets"], mode=mode)


if __name__ == "__main__":
    main()
