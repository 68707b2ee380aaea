"""CPU per vote through the whole app in this process (no HTTP, no load generator): a tool for
work on the vote's path, not a benchmark with targets (so `scripts/bench` skips it).

    python benchmarks/_vote_cpu.py [--votes 20000] [--concurrency 32] [--profile]

A fresh SQLite database with a live poll (as benchmarks/participation.py prepares it); votes
from new devices go straight into the ASGI app, `concurrency` at a time, and the process's CPU
time (the event loop and the group commit's writer thread together) is divided by the votes,
and the writer thread's share is given apart (`writer_cpu_ms_per_vote`; the rest,
`loop_cpu_ms_per_vote`, is the event loop's: middleware, routing, the route; no HTTP).
On a shared machine CPU time is steadier than requests per second: compare two versions of the
code in the same minutes (IM2_ROOT=<another checkout> runs that checkout's `im2`). `--profile`
prints cProfile's top functions of the event loop's thread (the writer thread is not in it:
use py-spy on the process for both).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

sys.path.insert(0, os.environ.get("IM2_ROOT") or str(Path(__file__).resolve().parents[1]))

from benchmarks._common import SECRET


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'votes.db'}"
    os.environ.update(
        IM2_DATABASE_URL=url,
        IM2_SECRET_KEY=SECRET,
        IM2_RUN_SCHEDULER="false",
        IM2_PARTICIPANT_RATE_PER_DEVICE="1000/second",
        IM2_PARTICIPANT_RATE_PER_IP="10000000/second",
    )
    # The per-IP risk limit is the deployment's default, as benchmarks/participation.py runs
    # it: every vote comes from one address, and its capped count stops at the limit + 1.
    from itsdangerous import URLSafeSerializer

    from benchmarks.participation import prepare
    from im2.app import create_app

    slug, poll_id, options = prepare(url)
    app = create_app()
    signer = URLSafeSerializer(SECRET, salt="im2-device")
    path = f"/api/v1/public/campaigns/{slug}/polls/{poll_id}/votes"
    body = json.dumps({"options": [options[0]], "consent": True}).encode()
    warm = 5 * args.concurrency
    cookies = iter([signer.dumps(uuid.uuid4().hex) for _ in range(args.votes + warm)])

    async def vote() -> int:
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "headers": [
                (b"host", b"127.0.0.1:8000"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cookie", b"im2_device=" + next(cookies).encode()),
            ],
        }
        sent = False
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        return status[0]

    async def voter(n: int) -> list[int]:
        return [await vote() for _ in range(n)]

    async def run() -> None:
        async with app.router.lifespan_context(app):
            await asyncio.gather(*(voter(5) for _ in range(args.concurrency)))
            profile = cProfile.Profile() if args.profile else None
            writer = _writer_clock()
            cpu, wall = time.process_time(), time.perf_counter()
            writer_cpu = time.clock_gettime(writer)
            if profile:
                profile.enable()
            each = args.votes // args.concurrency
            found = await asyncio.gather(*(voter(each) for _ in range(args.concurrency)))
            if profile:
                profile.disable()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            writer_cpu = time.clock_gettime(writer) - writer_cpu
            statuses = [s for one in found for s in one]
            print(
                json.dumps(
                    {
                        "votes": len(statuses),
                        "statuses": sorted(set(statuses)),
                        "cpu_ms_per_vote": round(cpu / len(statuses) * 1000, 3),
                        "writer_cpu_ms_per_vote": round(writer_cpu / len(statuses) * 1000, 3),
                        "loop_cpu_ms_per_vote": round((cpu - writer_cpu) / len(statuses) * 1000, 3),
                        "wall_ms_per_vote": round(wall / len(statuses) * 1000, 3),
                        "load_average_1min": os.getloadavg()[0],
                    }
                ),
                flush=True,
            )
            if profile:
                pstats.Stats(profile).sort_stats("tottime").print_stats(40)

    asyncio.run(run())


def _writer_clock() -> int:
    """The CPU clock of the group commit's writer thread (started by the warm-up votes)."""
    for thread in threading.enumerate():
        if thread.name == "im2-group-commit" and thread.ident is not None:
            return time.pthread_getcpuclockid(thread.ident)
    raise RuntimeError("no group-commit writer thread is running")


if __name__ == "__main__":
    main()
