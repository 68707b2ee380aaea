"""Listening benchmark: import and score mentions end to end into the database, then time the
topic dashboards.

    .venv/bin/python benchmarks/listening.py [--quick|--smoke] [--mentions N] [--transaction N]
        [--database-url URL] [--writer-thread auto|on|off]

End to end means what a file import does with each 2,000 rows (the importer's batch): the
idempotency check, language and sentiment (the shipped model), duplicate grouping (fingerprints
and MinHash LSH), topic matching for three topics, inbox rules, and the multi-row inserts, by
`MentionWriter.add`, which on PostgreSQL writes a batch in a thread while the next is scored
(`--writer-thread off`: one batch after the other, as `store_mentions` does). A file
import commits once per file; here a transaction commits every
`--transaction` mentions (10,000 by default, 2,000 to commit every batch), which is stricter.
The baseline, measured in the same run on a fresh database, is a plain executemany insert of
the same rows with nothing computed, committed as often. Texts are real posts (Weibo dev
set and Sentiment140 from the shared data folder when present) with a serial number added so
each is a distinct post. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import Mode, emit, mode_argument, mode_of, target
from im2.db import Database
from im2.listening.ingest import MENTIONS, MentionWriter, compiled_topics
from im2.listening.schemas import ListeningSettingsRead, MentionIn, Platform, TopicCreate
from im2.listening.sentiment import default_model
from im2.listening.service import BATCH as IMPORT_BATCH
from im2.listening.topics import dashboard, do_create_topic
from im2.migrations import upgrade
from im2.workspaces import service as workspaces

DATA = Path("/work/shared/data")
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
BATCH = IMPORT_BATCH  # what the file importer hands to store_mentions at a time
FALLBACK = [
    "西门子冰箱门关不上，客服也不回复，太差了",
    "新买的海尔冰箱很安静，很喜欢",
    "I love my new Siemens fridge, quiet and cold",
    "Worst customer service ever, the fridge broke in a week",
    "今天天气不错，出去走走",
]


def corpus() -> list[str]:
    texts: list[str] = []
    weibo = DATA / "weibo_senti_100k_subset" / "dev.csv"
    if weibo.exists():
        texts += [
            line.split("\t", 1)[1] for line in weibo.read_text().splitlines()[1:] if "\t" in line
        ]
    s140 = DATA / "en_sentiment140_test" / "testdata.manual.2009.06.14.csv"
    if s140.exists():
        import csv

        with s140.open(encoding="latin-1") as handle:
            texts += [row[-1] for row in list(csv.reader(handle))[1:]]
    return texts or FALLBACK


def mentions(n: int, texts: list[str], rng: random.Random) -> list[MentionIn]:
    brands = ["西门子", "海尔", "Siemens", "美的", ""]
    out = []
    for i in range(n):
        text = f"{rng.choice(brands)} {rng.choice(texts)} #{i}"
        out.append(
            MentionIn(
                platform=Platform.WEIBO if i % 3 else Platform.TWITTER,
                post_id=str(i),
                text=text,
                author=f"user{rng.randrange(50_000)}",
                author_followers=rng.randrange(200_000),
                posted_at=NOW - timedelta(minutes=rng.randrange(60 * 24 * 30)),
                likes=rng.randrange(100),
            )
        )
    return out


def fresh_database(tmp: Path, name: str, url: str | None) -> tuple[Database, int]:
    db_url = url or f"sqlite:///{tmp / name}"
    upgrade(db_url)
    db = Database(db_url)
    with db.transaction() as session:
        ws = workspaces.do_create_workspace(
            session,
            slug=f"bench-{name.split('.')[0]}-{time.time_ns()}",
            name="Bench",
            timezone="Asia/Shanghai",
            now=NOW,
        )
    return db, ws.id


def run(
    n: int, url: str | None, per_transaction: int, mode: Mode, overlap: bool | None = None
) -> dict[str, object]:
    rng = random.Random(7)
    data = mentions(n, corpus(), rng)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)

        db, ws_id = fresh_database(tmp, "baseline.db", url)
        started = time.perf_counter()
        for start in range(0, n, per_transaction):
            rows: list[dict[str, object]] = [
                {
                    "workspace_id": ws_id,
                    "platform": m.platform.value,
                    "post_id": m.post_id,
                    "url": None,
                    "author": m.author,
                    "author_followers": m.author_followers,
                    "text": m.text,
                    "language": "zh",
                    "posted_at": m.posted_at,
                    "posted_minute": int(m.posted_at.timestamp() // 60),
                    "likes": m.likes,
                    "reposts": 0,
                    "comments": 0,
                    "sentiment": None,
                    "sentiment_confidence": None,
                    "sentiment_corrected": False,
                    "duplicate_group": None,
                    "fingerprint": "",
                    "import_id": None,
                    "raw": {},
                    "created_at": NOW,
                }
                for m in data[start : start + per_transaction]
            ]
            with db.transaction() as session:
                session.execute(insert(MENTIONS), rows)
        baseline = n / (time.perf_counter() - started)
        db.dispose()

        db, ws_id = fresh_database(tmp, "listening.db", url)
        with db.transaction() as session:
            actor = workspaces.system_actor(
                session,
                workspace_slug=workspaces.get_workspace_by_id(session, workspace_id=ws_id).slug,
            )
            topic_ids = [
                do_create_topic(
                    session, actor=actor, data=TopicCreate(name=name, query=q, kind=k), now=NOW
                ).id
                for name, q, k in (
                    ("西门子", "西门子 OR siemens", "brand"),
                    ("海尔", "海尔 OR haier", "competitor"),
                    ("冰箱差评", "(冰箱 OR fridge) AND (差 OR worst OR broke)", "other"),
                )
            ]
            topics = compiled_topics(session, workspace_id=ws_id)
        settings = ListeningSettingsRead()
        default_model()  # loaded once per process in a server too; not part of the rate
        started, cpu_started = time.perf_counter(), time.process_time()
        # The rate of each tenth of the run (at least every 100,000 mentions), so a decline as
        # the tables grow shows.
        step = max(per_transaction, min(100_000, n // 10) // per_transaction * per_transaction)
        curve: list[dict[str, float]] = []
        lap, cpu_lap = started, cpu_started
        for start in range(0, n, per_transaction):
            done = min(start + per_transaction, n)
            with (
                db.transaction() as session,
                MentionWriter(
                    session,
                    workspace_id=ws_id,
                    settings=settings,
                    now=NOW,
                    topics=topics,
                    overlap=overlap,
                ) as writer,
            ):
                for first in range(start, done, BATCH):
                    writer.add(data[first : min(first + BATCH, done)])
            if done % step == 0 or done == n:
                wall, cpu = time.perf_counter(), time.process_time()
                count = done - (curve[-1]["upto"] if curve else 0)
                point = {
                    "upto": done,
                    "per_s": round(count / (wall - lap)),
                    "per_cpu_s": round(count / max(cpu - cpu_lap, 1e-9)),
                    "load_1m": round(os.getloadavg()[0], 2),
                }
                curve.append(point)
                print(json.dumps(point), flush=True)
                lap, cpu_lap = wall, cpu
        end_to_end = n / (time.perf_counter() - started)
        # Seconds of this process's CPU: what the rate would be if the core were ours alone
        # (the database is SQLite in-process, so its work counts too; with PostgreSQL it is
        # the server's and this figure is the client side only).
        per_cpu_second = n / (time.process_time() - cpu_started)

        timings = []
        with db.session() as session:
            for topic_id in [None, *topic_ids]:
                t = time.perf_counter()
                dashboard(
                    session,
                    actor=actor,
                    topic_id=topic_id,
                    since=NOW - timedelta(days=30),
                    until=NOW,
                )
                timings.append(time.perf_counter() - t)
        db.dispose()
    slowest = max(timings)
    return {
        "benchmark": "listening",
        "figures": {
            "mentions": n,
            "mentions_per_transaction": per_transaction,
            "writer_thread": overlap,
            "end_to_end_per_s": round(end_to_end),
            "baseline_executemany_per_s": round(baseline),
            "ratio_to_baseline": round(end_to_end / baseline, 3),
            "end_to_end_per_cpu_s": round(per_cpu_second),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "dashboard_seconds": [round(t, 3) for t in timings],
            "curve": curve,
            "database": (url or "sqlite").split(":")[0],
        },
        "targets": {
            "end_to_end_per_s": target(
                round(end_to_end), ">= 5000/s", end_to_end >= 5000, mode=mode
            ),
            "slowest_dashboard_s": target(round(slowest, 3), "< 1 s", slowest < 1.0, mode=mode),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode_argument(parser, quick="20,000 mentions (under a minute)", smoke="2,000 mentions")
    parser.add_argument("--mentions", type=int, default=None)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument(
        "--transaction",
        type=int,
        default=10_000,
        help="mentions per committed transaction (default 10,000; a file import commits once)",
    )
    parser.add_argument(
        "--writer-thread",
        choices=("auto", "on", "off"),
        default="auto",
        help="write each batch in a thread while the next is scored (auto: on PostgreSQL)",
    )
    args = parser.parse_args()
    mode = mode_of(args)
    sizes = {Mode.FULL: 1_000_000, Mode.QUICK: 20_000, Mode.SMOKE: 2_000}
    n = args.mentions or sizes[mode]
    if args.transaction < 1:
        parser.error("--transaction must be at least 1")
    overlap = {"auto": None, "on": True, "off": False}[args.writer_thread]
    result = run(n, args.database_url, args.transaction, mode, overlap)
    emit("listening", result["figures"], result["targets"], mode=mode)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
