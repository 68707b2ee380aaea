"""Which transport carries the live hub between server processes: Redis pub/sub or PostgreSQL
LISTEN/NOTIFY? The delay from a publish in this process to its arrival in another process.

    python benchmarks/live_transport.py [--quick|--smoke] [--redis URL] \
        [--postgres postgresql://im2:im2@127.0.0.1:5432/im2_test] [--rate 500]

A subscriber process (this script with `--subscriber`) listens on both; this process publishes
small JSON snapshots (a poll's results, ~300 bytes; 2,000, --quick 1,000, --smoke 50) at
`--rate` per second on one transport, then on the other, each stamped with CLOCK_MONOTONIC
(shared by processes on one machine). Publishing is what the hub does after a commit: Redis
`PUBLISH`, or `pg_notify` in its own autocommit statement. Then a burst: back to back. Without
`--redis` a redis-server is started on a free port. The delays' percentiles per phase are the
figures; the target is the Redis delay's p95 within issue 21's vote-to-SSE budget across
processes (250 ms). docs/deploy.md records the choice. Skipped (exit 0) without redis-server
or PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Mode, emit, free_port, mode_argument, mode_of, target

CHANNEL = "im2_measure"
PAYLOAD = {
    "activity_id": 1,
    "title": "Which flavour next?",
    "ballots": 12345,
    "voters": 12000,
    "held": 3,
    "options": [
        {"id": i, "label": f"Option {i}", "votes": 1000 + i, "share": 0.2} for i in range(5)
    ],
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(delays_ms: list[float]) -> dict[str, float]:
    return {
        "n": len(delays_ms),
        "p50_ms": round(statistics.median(delays_ms), 3),
        "p95_ms": round(percentile(delays_ms, 0.95), 3),
        "p99_ms": round(percentile(delays_ms, 0.99), 3),
        "max_ms": round(max(delays_ms), 3),
    }


async def subscribe(redis_url: str, postgres_url: str) -> None:
    """Listen on both transports; print one JSON line of delays per transport and phase."""
    import psycopg
    import redis.asyncio as aioredis

    delays: dict[str, list[float]] = {}
    done = asyncio.Event()

    def record(raw: str | bytes) -> None:
        now = time.monotonic_ns()
        message = json.loads(raw)
        delays.setdefault(message["phase"], []).append((now - message["sent"]) / 1e6)
        if message.get("last"):
            done.set()

    client = aioredis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(CHANNEL)
    pg = await psycopg.AsyncConnection.connect(postgres_url, autocommit=True)
    await pg.execute(f"LISTEN {CHANNEL}")

    async def redis_reader() -> None:
        async for item in pubsub.listen():
            record(item["data"])

    async def pg_reader() -> None:
        async for notify in pg.notifies():
            record(notify.payload)

    tasks = [asyncio.create_task(redis_reader()), asyncio.create_task(pg_reader())]
    print("ready", flush=True)
    await done.wait()  # the last message of the last phase (each transport keeps its order)
    for task in tasks:
        task.cancel()
    print(json.dumps({phase: summary(values) for phase, values in delays.items()}), flush=True)
    await pubsub.aclose()
    await client.aclose()
    await pg.close()


def publish(args: argparse.Namespace) -> dict[str, Any]:
    import psycopg
    import redis

    child = subprocess.Popen(
        [sys.executable, __file__, "--subscriber", "--redis", args.redis],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PGURL": args.postgres},
    )
    assert child.stdout is not None
    if child.stdout.readline().strip() != "ready":
        raise SystemExit("the subscriber did not start")
    r = redis.Redis.from_url(args.redis)
    pg = psycopg.connect(args.postgres, autocommit=True)

    def send_redis(text: str) -> None:
        r.publish(CHANNEL, text)

    def send_pg(text: str) -> None:
        pg.execute("SELECT pg_notify(%s, %s)", (CHANNEL, text))

    publish_cost: dict[str, float] = {}
    phases = [
        ("redis", send_redis, args.rate),
        ("postgres", send_pg, args.rate),
        ("redis_burst", send_redis, 0),
        ("postgres_burst", send_pg, 0),
    ]
    for phase, send, rate in phases:
        gap = 1 / rate if rate else 0.0
        started = time.perf_counter()
        for i in range(args.messages):
            text = json.dumps(
                {
                    **PAYLOAD,
                    "phase": phase,
                    "sent": time.monotonic_ns(),
                    "last": phase == phases[-1][0] and i == args.messages - 1,
                }
            )
            send(text)
            if gap:
                time.sleep(max(0.0, started + (i + 1) * gap - time.perf_counter()))
        elapsed = time.perf_counter() - started
        publish_cost[phase] = round(args.messages / elapsed)
        time.sleep(0.5)
    out, _ = child.communicate(timeout=60)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    for phase, per_second in publish_cost.items():
        result[phase]["published_per_s"] = per_second
    return result


NAME = "live_transport"
SIZES = {Mode.FULL: 2000, Mode.QUICK: 1000, Mode.SMOKE: 50}


def skipped(reason: str) -> NoReturn:
    print(json.dumps({"benchmark": NAME, "skipped": reason}), flush=True)
    raise SystemExit(0)


@contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        skipped("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import redis

        client = redis.Redis(port=port)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    mode_argument(parser, quick="1,000 messages per phase", smoke="50 messages per phase")
    parser.add_argument("--redis", help="a Redis URL (default: start a redis-server)")
    parser.add_argument("--postgres", default="postgresql://im2:im2@127.0.0.1:5432/im2_test")
    parser.add_argument("--rate", type=float, default=500.0, help="messages/s in the paced phase")
    parser.add_argument("--subscriber", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.subscriber:
        asyncio.run(subscribe(args.redis, os.environ["PGURL"]))
        return
    mode = mode_of(args)
    args.messages = SIZES[mode]
    import psycopg

    try:
        psycopg.connect(args.postgres, connect_timeout=5).close()
    except psycopg.Error as exc:
        skipped(f"PostgreSQL does not answer at {args.postgres} ({exc})")
    with contextlib.ExitStack() as stack:
        if not args.redis:
            args.redis = stack.enter_context(redis_server())
        result = publish(args)
    for phase, figures in result.items():
        print(f"{phase:>15}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    p95 = result["redis"]["p95_ms"]
    emit(
        NAME,
        result,
        {
            "redis_p95_ms": target(
                p95, "<= 250 (issue 21: vote to SSE across processes)", p95 <= 250, mode=mode
            )
        },
        mode=mode,
    )


if __name__ == "__main__":
    main()
