"""Which transport carries the live hub between server processes: Redis pub/sub or PostgreSQL
LISTEN/NOTIFY? The delay from a publish in this process to its arrival in another process.

    python benchmarks/live_transport.py --redis redis://127.0.0.1:6399/0 \
        --postgres postgresql://im2:im2@127.0.0.1:5432/im2_test [--messages 2000] [--rate 500]

A subscriber process (this script with `--subscriber`) listens on both; this process publishes
`--messages` small JSON snapshots (a poll's results, ~300 bytes) at `--rate` per second on one
transport, then on the other, each stamped with CLOCK_MONOTONIC (shared by processes on one
machine). Publishing is what the hub does after a commit: Redis `PUBLISH`, or `pg_notify` in
its own autocommit statement. Then a burst: as many as the transport takes, back to back. The
subscriber prints the delays' percentiles; the last line is the JSON summary. Informational:
no target (docs/deploy.md records the choice).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--postgres", default="postgresql://im2:im2@127.0.0.1:5432/im2_test")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=500.0, help="messages/s in the paced phase")
    parser.add_argument("--subscriber", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.subscriber:
        asyncio.run(subscribe(args.redis, os.environ["PGURL"]))
        return
    result = publish(args)
    for phase, figures in result.items():
        print(f"{phase:>15}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
