"""Votes per second through HTTP, against a no-op endpoint of the same server in the same run.

    python benchmarks/participation.py [--quick] [--postgres URL]
    python benchmarks/participation.py [--quick] --workers 1,2 --postgres URL

For each engine (the embedded SQLite default; PostgreSQL when --postgres or
IM2_BENCH_POSTGRES_URL names a database that may be wiped), it migrates a fresh database,
creates a live campaign with a poll, starts one `im2` server process (uvicorn, one worker, as
`im2 serve` runs it), and drives it with `wrk` (Debian package) at 64 connections:

- the ceiling: GET /bench/noop, an `async` no-op route that the benchmark adds to the same
  app, first in its route table (same middleware, no database, the least routing);
- GET /bench/noop-last, the same no-op appended after the app's ~380 routes, as the ceiling
  was measured until 2026-12 (every request then also pays FastAPI's scan of the route
  table, ~0.6 ms here); reported as `ratio_to_noop_last` for comparison with older figures;
- POST /bench/insert (SQLite only), the issue's reference point ("a plain sqlite3 insert per
  request already reaches about 0.66"): an `async` route, first in the route table like the
  no-op, that inserts one row with the standard library's sqlite3 on one shared connection
  (WAL, `synchronous=FULL`, so it is as durable as a vote) and commits; reported as
  `plain_insert_rps` and `plain_insert_ratio` (to the no-op of the same round); and the same
  with `synchronous=NORMAL` (POST /bench/insert-normal: a commit is not fsynced, so an
  answered insert can be lost in a power cut), `plain_insert_normal_*`;
- votes: POST /api/v1/public/campaigns/<slug>/polls/<id>/votes, each request from a distinct
  device (pre-signed device cookies), so every request is a first vote that must be written;
- the same votes offered open loop at half the round's measured votes/s (`_open_loop.py`):
  the latency target is judged there (`half_load_p99_ms`), not at saturation.

With --workers 1,2 only the several-worker comparison runs (`run_workers`): `im2 serve
--workers N` for each count on PostgreSQL and a redis-server started here, votes/s gain over
the no-op's own gain in the same rounds.

The no-ops and the votes take turns (2 rounds of 5 s with --quick, 1 of 2 s with --smoke, else
4 rounds of 10 s) so that both see the same load from the rest of a shared machine; the ratio
is mean vote requests/s over mean no-op requests/s, latencies are medians over the rounds (and
the worst round's p99). Afterwards it counts the ballots in the database: every 201 must be
exactly one ballot (no lost or doubled votes). The last printed line is the JSON summary.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from itsdangerous import URLSafeSerializer
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _open_loop as open_loop
from benchmarks._common import (
    CONNECTIONS,
    SECRET,
    Mode,
    emit,
    fail,
    free_port,
    mode_argument,
    mode_of,
    redis_server,
    require_tool,
    start_server,
    stop_server,
    target,
)
from benchmarks._common import wrk as run_wrk
from benchmarks._open_loop import OpenLoopResult

NAME = "participation"


def wrk(args: list[str]) -> dict[str, float]:
    return run_wrk(NAME, args)


# What uvicorn picks by itself (loop="auto", http="auto") in this environment.
SERVER = "uvicorn, loop={}, http={}".format(
    "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
    "httptools" if importlib.util.find_spec("httptools") else "h11",
)

LUA = r"""
local cookies = {}
local next_index = 1
local path = ""
local body = ""

function setup(thread)
  thread:set("tid", tostring(_G.thread_counter or 0))
  _G.thread_counter = (_G.thread_counter or 0) + 1
end

function init(args)
  path = args[1]
  body = args[2]
  local nthreads = tonumber(args[4])
  local tid = tonumber(wrk.thread:get("tid"))
  local i = 0
  for line in io.lines(args[3]) do
    if i % nthreads == tid then table.insert(cookies, line) end
    i = i + 1
  end
end

function request()
  local cookie = cookies[next_index]
  next_index = next_index + 1
  if next_index > #cookies then next_index = 1 end
  local headers = {["Content-Type"] = "application/json", ["Cookie"] = "im2_device=" .. cookie}
  return wrk.format("POST", path, headers, body)
end
"""


def prepare(url: str) -> tuple[str, int, list[int]]:
    from im2.activities.formats.poll import service as polls
    from im2.activities.formats.poll.schemas import PollCreate, PollOptionIn
    from im2.campaigns import service as campaigns
    from im2.campaigns.schemas import CampaignCreate, CampaignStatus
    from im2.db import Database
    from im2.migrations import upgrade
    from im2.workspaces import service as workspaces

    if url.startswith("postgresql"):
        wipe = Database(url)
        with wipe.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        wipe.dispose()
    upgrade(url)
    db = Database(url)
    now = datetime.now(UTC)
    with db.transaction() as session:
        workspaces.do_create_workspace(
            session, slug="bench", name="Bench", timezone="Asia/Shanghai", now=now
        )
        actor = workspaces.system_actor(session, workspace_slug="bench")
        campaign = campaigns.do_create_campaign(
            session,
            actor=actor,
            data=CampaignCreate(
                name="Benchmark",
                slug="bench-vote",
                objective="engagement",
                starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(days=1),
            ),
            now=now - timedelta(hours=2),
        )
        for status in (CampaignStatus.SCHEDULED, CampaignStatus.LIVE):
            campaigns.do_transition_campaign(
                session, actor=actor, campaign_id=campaign.id, to=status, now=now
            )
        poll = polls.do_create_poll(
            session,
            actor=actor,
            campaign_id=campaign.id,
            data=PollCreate(
                title="Which one?", options=[PollOptionIn(label=f"option {i}") for i in range(4)]
            ),
            now=now,
        )
        options = [o.id for o in polls.options_of(session, activity_id=poll.id)]
    db.dispose()
    return campaign.slug, poll.id, options


PLAIN_INSERT = """
import sqlite3
import time as _time
def _plain_route(path, synchronous, route):
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute('PRAGMA journal_mode=WAL')
    conn.execute('PRAGMA synchronous=' + synchronous)
    conn.execute('CREATE TABLE IF NOT EXISTS bench_insert (id INTEGER PRIMARY KEY, at REAL)')
    async def plain_insert() -> JSONResponse:
        conn.execute('INSERT INTO bench_insert (at) VALUES (?)', (_time.time(),))
        return JSONResponse({{'status': 'ok'}}, status_code=201)
    app.add_api_route(route, plain_insert, methods=['POST'])
    app.router.routes.insert(0, app.router.routes.pop())
_plain_route({full!r}, 'FULL', '/bench/insert')
_plain_route({normal!r}, 'NORMAL', '/bench/insert-normal')
"""


def count_ballots(url: str) -> tuple[int, int, int]:
    """Ballots, distinct voters among them, and the options' counters added up."""
    from im2.db import Database

    db = Database(url)
    with db.engine.connect() as conn:
        ballots = int(conn.execute(text("SELECT count(*) FROM poll_ballots")).scalar_one())
        voters = int(
            conn.execute(
                text("SELECT count(DISTINCT participant_id) FROM poll_ballots")
            ).scalar_one()
        )
        counter = int(conn.execute(text("SELECT sum(vote_count) FROM poll_options")).scalar_one())
    db.dispose()
    return ballots, voters, counter


def write_cookies(path: Path, count: int) -> Path:
    """`count` new devices' signed cookies, one a line, for vote.lua."""
    signer = URLSafeSerializer(SECRET, salt="im2-device")
    path.write_text("\n".join(signer.dumps(uuid.uuid4().hex) for _ in range(count)) + "\n")
    return path


def offer(
    port: int, path: str, body: str, cookies: Path, *, rate: float, seconds: int
) -> OpenLoopResult:
    """Votes from `cookies`' devices, open loop at `rate` per second (`_open_loop`)."""
    devices = cookies.read_text().split()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    )

    def request(i: int) -> bytes:
        return f"{head}Cookie: im2_device={devices[i % len(devices)]}\r\n\r\n{body}".encode()

    found = open_loop.run("127.0.0.1", port, request, rate=max(rate, 1.0), seconds=seconds)
    if found.answered == 0:
        fail(NAME, f"open loop at {rate:.0f}/s: no request was answered")
    return found


def run_engine(
    name: str, url: str, seconds: int, rounds: int, workdir: Path, *, smoke: bool = False
) -> dict[str, Any]:
    slug, poll_id, options = prepare(url)
    port = free_port()
    # The reference point, a plain sqlite3 insert per request, on SQLite only (in a
    # file of its own beside the workdir, so it does not touch the votes' database).
    plain = workdir / f"{name}-plain-insert.db" if url.startswith("sqlite") else None
    extra = PLAIN_INSERT.format(full=str(plain), normal=f"{plain}-normal") if plain else ""
    server = start_server(url, port, extra_code=extra)
    script = workdir / "vote.lua"
    script.write_text(LUA)
    insert_script = workdir / "insert.lua"
    insert_script.write_text('wrk.method = "POST"\n')
    path = f"/api/v1/public/campaigns/{slug}/polls/{poll_id}/votes"
    body = json.dumps({"options": [options[0]], "consent": True})
    noops: list[dict[str, float]] = []
    noops_last: list[dict[str, float]] = []
    votes: list[dict[str, float]] = []
    inserts: list[dict[str, float]] = []
    inserts_normal: list[dict[str, float]] = []
    halves: list[OpenLoopResult] = []
    loads: list[float] = []
    try:
        base = f"http://127.0.0.1:{port}"
        # One request each first: the first through the whole route table is slow (on a
        # loaded machine a 1 s wrk run of /bench/noop-last answered nothing).
        for route in ("/bench/noop", "/bench/noop-last"):
            httpx.get(base + route, timeout=120).raise_for_status()
        warm_up = "-d1s" if smoke else "-d2s"
        wrk(["-t2", f"-c{CONNECTIONS}", warm_up, base + "/bench/noop"])

        # The no-ops and the votes take turns, so that all see the same load from the rest
        # of the machine (a shared machine's load moves within seconds).
        def measure(target: str, *lua: str) -> dict[str, float]:
            """One wrk measurement of this round at 64 connections; `lua`: script and args."""
            script_args = ["-s", lua[0], target, "--", *lua[1:]] if lua else [target]
            return wrk(["-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", *script_args])

        for round_ in range(rounds):
            loads.append(os.getloadavg()[0])
            noops_last.append(measure(base + "/bench/noop-last"))
            noops.append(measure(base + "/bench/noop"))
            if plain is not None:
                for route, results in (("insert", inserts), ("insert-normal", inserts_normal)):
                    results.append(measure(f"{base}/bench/{route}", str(insert_script)))
            # More new devices than the server can take in a round: every vote is a first vote.
            count = max(2_000 if smoke else 20_000, int(noops[-1]["rps"] * seconds * 2))
            cookies = write_cookies(workdir / f"{name}-cookies-{round_}.txt", count)
            votes.append(measure(base, str(script), path, body, str(cookies), "2"))
            # The same votes offered open loop at half this round's maximum.
            half = write_cookies(workdir / f"{name}-half-{round_}.txt", count)
            halves.append(offer(port, path, body, half, rate=votes[-1]["rps"] / 2, seconds=seconds))
    finally:
        stop_server(server)
    ballots, voters, counter = count_ballots(url)
    accepted = sum(v["requests"] - v["non_2xx"] for v in votes)
    accepted += sum(n for h in halves for status, n in h.statuses.items() if status < 300)
    noop_rps = statistics.mean(n["rps"] for n in noops)
    vote_rps = statistics.mean(v["rps"] for v in votes)
    return {
        "rounds": rounds,
        "seconds_per_measurement": seconds,
        "load_average_1min": round(statistics.mean(loads), 2),
        "server": SERVER,
        "noop_last_rps": round(statistics.mean(n["rps"] for n in noops_last), 1),
        "noop_last_p99_ms": round(statistics.median(n["p99_ms"] for n in noops_last), 2),
        "ratio_to_noop_last": round(vote_rps / statistics.mean(n["rps"] for n in noops_last), 3),
        "noop_rps": round(noop_rps, 1),
        "noop_p50_ms": round(statistics.median(n["p50_ms"] for n in noops), 2),
        "noop_p99_ms": round(statistics.median(n["p99_ms"] for n in noops), 2),
        "vote_rps": round(vote_rps, 1),
        "vote_p50_ms": round(statistics.median(v["p50_ms"] for v in votes), 2),
        "vote_p99_ms": round(statistics.median(v["p99_ms"] for v in votes), 2),
        "vote_p99_ms_worst_round": round(max(v["p99_ms"] for v in votes), 2),
        # Open loop at half the round's maximum: the restated latency target (issue #21).
        "half_load_offered_rps": round(statistics.mean(h.offered_rps for h in halves), 1),
        "half_load_p50_ms": round(statistics.median(h.percentile(0.5) for h in halves), 2),
        "half_load_p99_ms": round(statistics.median(h.percentile(0.99) for h in halves), 2),
        "half_load_p99_ms_worst_round": round(max(h.percentile(0.99) for h in halves), 2),
        "half_load_not_2xx_or_errors": sum(
            h.errors + sum(n for status, n in h.statuses.items() if status >= 300) for h in halves
        ),
        "half_load_most_connections": max(h.connections for h in halves),
        "ratio": round(vote_rps / noop_rps, 3),
        "ratio_per_round": [
            round(v["rps"] / n["rps"], 3) for v, n in zip(votes, noops, strict=True)
        ],
        **(
            {
                "plain_insert_rps": round(statistics.mean(i["rps"] for i in inserts), 1),
                "plain_insert_p99_ms": round(statistics.median(i["p99_ms"] for i in inserts), 2),
                "plain_insert_ratio": round(
                    statistics.mean(i["rps"] for i in inserts) / noop_rps, 3
                ),
                "plain_insert_non_2xx": sum(i["non_2xx"] for i in inserts),
                "plain_insert_normal_rps": round(
                    statistics.mean(i["rps"] for i in inserts_normal), 1
                ),
                "plain_insert_normal_p99_ms": round(
                    statistics.median(i["p99_ms"] for i in inserts_normal), 2
                ),
                "plain_insert_normal_ratio": round(
                    statistics.mean(i["rps"] for i in inserts_normal) / noop_rps, 3
                ),
            }
            if inserts
            else {}
        ),
        "votes_sent": sum(v["requests"] for v in votes),
        "votes_rejected": sum(v["non_2xx"] for v in votes),
        "socket_errors": sum(v["socket_errors"] for v in votes),
        "ballots_in_db": ballots,
        # A 201 without a ballot is lost; a ballot without its own device, or a counter that
        # disagrees with the ballots, is doubled. (Requests still in flight when wrk stops are
        # written but not counted by wrk, so ballots may exceed wrk's 2xx count.)
        "lost": max(0, accepted - ballots),
        "doubled": (ballots - voters) + abs(counter - ballots),
    }


def run_workers(
    counts: list[int], url: str, redis_url: str, seconds: int, rounds: int, workdir: Path
) -> dict[str, Any]:
    """Votes/s of one server per worker count (`im2 serve --workers N` on PostgreSQL and
    Redis), each against its own no-op. All the servers run at once, idle but for the one
    measured, and take turns within each round, so that every count sees the same load from
    the rest of the machine. The scaling of votes from the first count to each other is
    divided by the no-op's own scaling: wrk shares the machine's cores with the servers, so
    the no-op's gain is what more processes can give here at all."""
    slug, poll_id, options = prepare(url)
    redis = {"IM2_REDIS_URL": redis_url}
    ports = {n: free_port() for n in counts}
    script = workdir / "vote.lua"
    script.write_text(LUA)
    path = f"/api/v1/public/campaigns/{slug}/polls/{poll_id}/votes"
    body = json.dumps({"options": [options[0]], "consent": True})
    noops: dict[int, list[dict[str, float]]] = {n: [] for n in counts}
    votes: dict[int, list[dict[str, float]]] = {n: [] for n in counts}
    loads: list[float] = []

    def measure(target: str, *lua: str) -> dict[str, float]:
        script_args = ["-s", lua[0], target, "--", *lua[1:]] if lua else [target]
        return wrk(["-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", *script_args])

    servers: list[subprocess.Popen[bytes]] = []
    try:
        for n in counts:  # one by one: those started are stopped should one fail
            servers.append(start_server(url, ports[n], workers=n, env=redis))
        signer = URLSafeSerializer(SECRET, salt="im2-device")
        for n in counts:
            base = f"http://127.0.0.1:{ports[n]}"
            httpx.get(base + "/bench/noop", timeout=120).raise_for_status()
            # A worker's first vote is slow (its statements are compiled, its connections
            # opened): a few votes on new connections each, which the workers share out.
            for _ in range(4 * n):
                httpx.post(
                    base + path,
                    content=body,
                    headers={"Content-Type": "application/json"},
                    cookies={"im2_device": signer.dumps(uuid.uuid4().hex)},
                    timeout=120,
                ).raise_for_status()
            # Every worker takes some of the warm-up's 64 connections.
            wrk(["-t2", f"-c{CONNECTIONS}", "-d2s", base + "/bench/noop"])
        for round_ in range(rounds):
            loads.append(os.getloadavg()[0])
            for n in counts:
                base = f"http://127.0.0.1:{ports[n]}"
                noops[n].append(measure(base + "/bench/noop"))
                count = max(2_000, int(noops[n][-1]["rps"] * seconds * 2))
                cookies = write_cookies(workdir / f"workers-{n}-cookies-{round_}.txt", count)
                votes[n].append(measure(base, str(script), path, body, str(cookies), "2"))
    finally:
        for server in servers:
            stop_server(server)
    ballots, voters, counter = count_ballots(url)
    accepted = sum(v["requests"] - v["non_2xx"] for n in counts for v in votes[n])
    per_count: dict[str, dict[str, Any]] = {}
    for n in counts:
        per_count[str(n)] = {
            "noop_rps": round(statistics.mean(x["rps"] for x in noops[n]), 1),
            "vote_rps": round(statistics.mean(x["rps"] for x in votes[n]), 1),
            "vote_p50_ms": round(statistics.median(x["p50_ms"] for x in votes[n]), 2),
            "vote_p99_ms": round(statistics.median(x["p99_ms"] for x in votes[n]), 2),
            "votes_rejected": sum(x["non_2xx"] for x in votes[n]),
        }
    first = str(counts[0])
    scaling: dict[str, dict[str, float]] = {}
    for n in counts[1:]:
        found = per_count[str(n)]
        vote_gain = found["vote_rps"] / per_count[first]["vote_rps"]
        noop_gain = found["noop_rps"] / per_count[first]["noop_rps"]
        # Per round too: the rounds' spread says how much one figure can be trusted.
        by_round = [
            (votes[n][r]["rps"] / votes[counts[0]][r]["rps"])
            / (noops[n][r]["rps"] / noops[counts[0]][r]["rps"])
            for r in range(rounds)
        ]
        scaling[f"{n}_against_{first}"] = {
            "vote_gain": round(vote_gain, 3),
            "noop_gain": round(noop_gain, 3),
            "ratio": round(vote_gain / noop_gain, 3),
            "ratio_per_round": [round(x, 3) for x in by_round],  # type: ignore[dict-item]
        }
    return {
        "rounds": rounds,
        "seconds_per_measurement": seconds,
        "load_average_1min": round(statistics.mean(loads), 2),
        "server": f"{SERVER}, IM2_REDIS_URL (rate limits and live hub in Redis)",
        "workers": per_count,
        "scaling": scaling,
        "ballots_in_db": ballots,
        "lost": max(0, accepted - ballots),
        "doubled": (ballots - voters) + abs(counter - ballots),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode_argument(
        parser,
        quick="2 rounds of 5 s instead of 4 rounds of 10 s",
        smoke="1 round of 2 s",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("IM2_BENCH_POSTGRES_URL"),
        help="a PostgreSQL URL that may be wiped",
    )
    parser.add_argument(
        "--workers",
        help="worker counts to compare, e.g. 1,2: votes/s of `im2 serve --workers N` on "
        "PostgreSQL (--postgres) and Redis (a redis-server started here), scaled against the "
        "no-op's own scaling; only this comparison runs",
    )
    args = parser.parse_args()
    mode = mode_of(args)
    require_tool(NAME, "wrk", "wrk")
    seconds, rounds = {Mode.FULL: (10, 4), Mode.QUICK: (5, 2), Mode.SMOKE: (2, 1)}[mode]
    if args.workers:
        workers_main(args, mode, seconds, rounds)
        return
    figures: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        figures["sqlite"] = run_engine(
            "sqlite",
            f"sqlite:///{workdir / 'bench.db'}",
            seconds,
            rounds,
            workdir,
            smoke=mode is Mode.SMOKE,
        )
        print("sqlite", figures["sqlite"], flush=True)
        if args.postgres:
            figures["postgresql"] = run_engine(
                "postgresql", args.postgres, seconds, rounds, workdir, smoke=mode is Mode.SMOKE
            )
            print("postgresql", figures["postgresql"], flush=True)
    targets: dict[str, dict[str, Any]] = {}
    for engine, found in figures.items():
        if engine == "sqlite":
            # Restated by issue #21: a durable vote against a no-op that serves 8,000-9,500
            # req/s (the first-in-table no-op), in the same run; it was >= 0.7.
            targets["sqlite_ratio_to_noop"] = target(
                found["ratio"], ">= 0.25", found["ratio"] >= 0.25, mode=mode
            )
        # Restated by issue #21: the p99 at an open-loop load of half the measured maximum,
        # not at saturation (where 64 connections queue behind each other by design).
        p99 = found["half_load_p99_ms"]
        targets[f"{engine}_half_load_p99_ms"] = target(p99, "<= 100 ms", p99 <= 100, mode=mode)
        wrong = found["lost"] + found["doubled"]
        targets[f"{engine}_lost_or_doubled"] = target(wrong, "== 0", wrong == 0, mode=mode)
    emit(NAME, figures, targets, mode=mode)


def workers_main(args: argparse.Namespace, mode: Mode, seconds: int, rounds: int) -> None:
    try:
        counts = [int(n) for n in args.workers.split(",")]
    except ValueError:
        fail(NAME, f"--workers takes worker counts such as 1,2, not {args.workers!r}")
    if len(counts) < 2 or min(counts) < 1:
        fail(NAME, "--workers needs at least two counts of 1 or more, such as 1,2")
    if not args.postgres:
        fail(NAME, "--workers needs --postgres URL (several processes cannot share SQLite)")
    with tempfile.TemporaryDirectory() as tmp, redis_server(NAME) as redis_url:
        found = run_workers(counts, args.postgres, redis_url, seconds, rounds, Path(tmp))
    print("workers", found, flush=True)
    targets: dict[str, dict[str, Any]] = {}
    for key, scaling in found["scaling"].items():
        ratio = scaling["ratio"]
        targets[f"workers_{key}_ratio"] = target(ratio, ">= 0.8", ratio >= 0.8, mode=mode)
    wrong = found["lost"] + found["doubled"]
    targets["workers_lost_or_doubled"] = target(wrong, "== 0", wrong == 0, mode=mode)
    emit(NAME, {"postgresql_workers": found}, targets, mode=mode)


if __name__ == "__main__":
    main()
