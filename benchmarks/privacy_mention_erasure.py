"""Erasure's mention blanking for a group of people: per person against set-based (issue #20).

    .venv/bin/python benchmarks/privacy_mention_erasure.py [--quick|--smoke] [--postgres URL]

A workspace of people (`benchmarks/privacy_erasure_indexes.py`'s world), each holding a Weibo
and a Douyin account, each account with `PER_ACCOUNT` mentions (some written with @, some of the
Douyin ones in upper case). A group of `BATCH` people has its mentions blanked:
- `per_person`: what erasure did before, one `social_accounts` look-up and one
  `blank_account_mentions` per person;
- `set_based`: `im2.privacy.mentions.blank_matched` for the whole group, as erasure does now.
Each in a transaction rolled back, on the same rows, alternately over `ROUNDS` groups; the
counts per person and every mention row afterwards must be the same (`same` in the figures).

`--postgres URL`: the same on PostgreSQL, in the erasure benchmark's database
(`im2_bench_erasure_idx`), created fresh on that server: do not run the two at once. The
last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import privacy_erasure_indexes as world
from benchmarks._common import Mode, emit, mode_argument, mode_of, target
from im2.db import Base, Database
from im2.listening.people import author_key, blank_account_mentions
from im2.migrations import upgrade
from im2.privacy import mentions

BENCHMARK = "privacy_mention_erasure"
SIZES = {Mode.FULL: 20_000, Mode.QUICK: 5_000, Mode.SMOKE: 600}
BATCH = {Mode.FULL: 500, Mode.QUICK: 500, Mode.SMOKE: 100}
PER_ACCOUNT = 10
ROUNDS = 3

Blank = Callable[[Session, int, Sequence[Sequence[int]]], list[int]]


def _accounts_and_mentions(db: Database, *, n: int) -> int:
    ws = world._setup(db, n=n)
    identities, posts = [], []
    for i in range(1, n + 1):
        for kind, handle in (("weibo", f"User{i}"), ("douyin", f"user{i}")):
            identities.append(
                {"workspace_id": ws, "person_id": i, "kind": kind, "value": handle}
                | {"hint": None, "created_at": world.NOW}
            )
            for k in range(PER_ACCOUNT):
                shown = handle.upper() if kind == "douyin" and k % 2 else handle
                author = ("@" if k % 3 == 0 else "") + shown
                posts.append(
                    {"workspace_id": ws, "platform": kind, "post_id": f"{kind}-{i}-{k}"}
                    | {"url": "https://example.com", "author": author}
                    | {"author_key": author_key(author), "author_followers": 0, "text": "帖子"}
                    | {"language": "zh", "posted_at": world.NOW - timedelta(minutes=k)}
                    | {"posted_minute": 0, "likes": k, "reposts": 0, "comments": 0}
                    | {"sentiment": "neutral", "sentiment_corrected": False}
                    | {"fingerprint": "f", "raw": {"post": k}, "created_at": world.NOW}
                )
    with db.transaction() as session:
        session.execute(insert(Base.metadata.tables["person_identities"]), identities)
        for start in range(0, len(posts), world.CHUNK):
            session.execute(
                insert(Base.metadata.tables["listening_mentions"]),
                posts[start : start + world.CHUNK],
            )
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return ws


def _per_person(session: Session, ws: int, people: Sequence[Sequence[int]]) -> list[int]:
    return [
        blank_account_mentions(
            session,
            workspace_id=ws,
            accounts=mentions.social_accounts(session, workspace_id=ws, person_ids=ids),
            case_folded=mentions._FOLDED,
        )
        for ids in people
    ]


def _set_based(session: Session, ws: int, people: Sequence[Sequence[int]]) -> list[int]:
    return mentions.blank_matched(session, workspace_id=ws, people=people)


def _run(db: Database, ws: int, blank: Blank, people: list[list[int]]) -> tuple[float, Any]:
    table = Base.metadata.tables["listening_mentions"]
    with db.session() as session:
        started = time.perf_counter()
        counts = blank(session, ws, people)
        spent = time.perf_counter() - started
        rows = session.execute(select(table).order_by(table.c.id)).all()
        session.rollback()
    return spent, (counts, [tuple(r) for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode_argument(parser, quick="5,000 people, groups of 500", smoke="600 people, groups of 100")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL server URL")
    args = parser.parse_args()
    mode = mode_of(args)
    n, batch = SIZES[mode], BATCH[mode]
    times: dict[str, list[float]] = {"per_person": [], "set_based": []}
    same = True
    with tempfile.TemporaryDirectory() as tmp:
        url = (
            world._pg_database(args.postgres)
            if args.postgres
            else f"sqlite:///{Path(tmp) / 'm.db'}"
        )
        upgrade(url)
        db = Database(url)
        ws = _accounts_and_mentions(db, n=n)
        step = max(1, n // (ROUNDS * batch))
        for r in range(ROUNDS):
            people = [[p] for p in range(1 + r, n + 1, step)][:batch]
            per_s, per = _run(db, ws, _per_person, people)
            set_s, bulk = _run(db, ws, _set_based, people)
            same = same and per == bulk
            times["per_person"].append(per_s)
            times["set_based"].append(set_s)
            print(f"round {r + 1}: per person {per_s:.3f} s, set-based {set_s:.3f} s", flush=True)
        db.dispose()
    figures: dict[str, Any] = {
        "people": n,
        "group": batch,
        "mentions_per_person": 2 * PER_ACCOUNT,
        "database": "postgresql" if args.postgres else "sqlite",
        "same": same,
    }
    for name, runs in times.items():
        figures[f"{name}_s"] = [round(t, 3) for t in runs]
        figures[f"{name}_median_s"] = round(statistics.median(runs), 3)
    targets = {
        "set_based_median_s": target(
            figures["set_based_median_s"],
            f"< per person ({figures['per_person_median_s']} s), same rows and counts",
            same and figures["set_based_median_s"] < figures["per_person_median_s"],
            mode=mode,
        )
    }
    emit(BENCHMARK, figures, targets, mode=mode)


if __name__ == "__main__":
    main()
