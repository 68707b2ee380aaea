"""Share-link redirects per second through HTTP, against a no-op endpoint of the same server in
the same run.

    python benchmarks/share_redirect.py [--quick|--smoke] [--postgres URL]

For each engine (the embedded SQLite default; PostgreSQL when --postgres or
IM2_BENCH_POSTGRES_URL names a database that may be wiped), it migrates a fresh database,
creates a live campaign whose 200 participants each have a share link, starts one `im2` server
process (uvicorn, one worker, as `im2 serve` runs it), and drives it with `wrk` (Debian package)
at 64 connections:

- the ceiling: GET /healthz (no database; an async no-op at the front of the route table);
- for comparison with figures before 2026-12-05 only: GET /bench/noop-last, the same no-op
  behind the app's ~380 routes, as /healthz was then (`ratio_to_noop_last`);
- redirects: GET /s/<code>?ch=wechat over the 200 links, each request a new visitor (no
  cookie), so every request is a click that must be counted and recorded (`share.clicked`).

Afterwards it checks the books: the links' click counters must equal the `share.clicked`
events, and every 303 wrk saw must be among them (none lost). The last printed line is the
JSON summary. `--smoke`: 20 links, 2 s per measurement, nothing judged.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    CONNECTIONS,
    Mode,
    emit,
    free_port,
    mode_argument,
    mode_of,
    require_tool,
    start_server,
    stop_server,
    target,
)
from benchmarks._common import wrk as run_wrk

NAME = "share_redirect"
TARGET_RATIO = 0.6

LUA = r"""
local codes = {}
local next_index = 1

function setup(thread)
  thread:set("tid", tostring(_G.thread_counter or 0))
  _G.thread_counter = (_G.thread_counter or 0) + 1
end

function init(args)
  local nthreads = tonumber(args[2])
  local tid = tonumber(wrk.thread:get("tid"))
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == tid then table.insert(codes, line) end
    i = i + 1
  end
end

function request()
  local code = codes[next_index]
  next_index = next_index + 1
  if next_index > #codes then next_index = 1 end
  return wrk.format("GET", "/s/" .. code .. "?ch=wechat")
end
"""


def wrk(args: list[str]) -> dict[str, float]:
    return run_wrk(NAME, args)


def prepare(url: str, sharers: int) -> list[str]:
    from im2.campaigns import service as campaigns
    from im2.campaigns.schemas import CampaignCreate, CampaignStatus
    from im2.db import Database
    from im2.migrations import upgrade
    from im2.participation import service as participation
    from im2.participation.schemas import Visitor
    from im2.sharing import service as sharing
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
    codes: list[str] = []
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
                slug="bench-share",
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
        workspace_id = actor.workspace_id
        for i in range(sharers):
            person = participation.do_join(
                session,
                workspace_id=workspace_id,
                campaign_id=campaign.id,
                visitor=Visitor(device_id=f"{i:032x}", ip="10.0.0.1", user_agent="bench"),
                consented=True,
                now=now,
            )
            link = sharing.do_get_link(
                session,
                workspace_id=workspace_id,
                campaign_id=campaign.id,
                participant_id=person.id,
                now=now,
            )
            codes.append(link.code)
    db.dispose()
    return codes


def run_engine(
    name: str, url: str, seconds: int, workdir: Path, *, sharers: int
) -> dict[str, float]:
    codes = prepare(url, sharers)
    port = free_port()
    server = start_server(url, port)
    try:
        base = f"http://127.0.0.1:{port}"
        # The first request through the whole route table is slow: one each before wrk.
        for route in ("/healthz", "/bench/noop-last"):
            httpx.get(base + route, timeout=120).raise_for_status()
        warm_up = f"-d{min(seconds, 2)}s"
        wrk(["-t2", f"-c{CONNECTIONS}", warm_up, base + "/healthz"])
        # One click first, so that the redirect path's first-use costs (lazy imports, the
        # first statements prepared) are not inside a short measurement. It is counted in
        # both books like any click.
        first = httpx.get(f"{base}/s/{codes[0]}?ch=wechat", follow_redirects=False, timeout=60)
        if first.status_code != 303:
            raise SystemExit(f"a share link answered {first.status_code}, not 303")
        noop = wrk(["-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", base + "/healthz"])
        # The ceiling until 2026-12-05, when /healthz (then behind the app's ~380 routes, each
        # tried at ~1.5 us) moved to the front of the route table: the 0.70 of 2026-11-22 was
        # against it. Reported for comparison only.
        noop_last = wrk(["-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", base + "/bench/noop-last"])
        codes_file = workdir / f"{name}-codes.txt"
        codes_file.write_text("\n".join(codes) + "\n")
        script = workdir / "redirect.lua"
        script.write_text(LUA)
        redirects = wrk(
            [
                "-t2",
                f"-c{CONNECTIONS}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                str(script),
                base,
                "--",
                str(codes_file),
                "2",
            ]
        )
    finally:
        stop_server(server)
    from im2.db import Database

    db = Database(url)
    with db.engine.connect() as conn:
        counted = int(
            conn.execute(text("SELECT coalesce(sum(clicks), 0) FROM share_links")).scalar_one()
        )
        events = int(
            conn.execute(
                text("SELECT count(*) FROM events WHERE kind = 'share.clicked'")
            ).scalar_one()
        )
    db.dispose()
    answered = redirects["requests"] - redirects["non_2xx"]
    return {
        "noop_rps": round(noop["rps"], 1),
        "noop_p99_ms": round(noop["p99_ms"], 2),
        "noop_last_rps": round(noop_last["rps"], 1),
        "ratio_to_noop_last": round(redirects["rps"] / noop_last["rps"], 3),
        "redirect_rps": round(redirects["rps"], 1),
        "redirect_p50_ms": round(redirects["p50_ms"], 2),
        "redirect_p99_ms": round(redirects["p99_ms"], 2),
        "ratio": round(redirects["rps"] / noop["rps"], 3),
        "redirects_sent": redirects["requests"],
        "redirects_failed": redirects["non_2xx"],
        "socket_errors": redirects["socket_errors"],
        "clicks_counted": counted,
        "click_events": events,
        # A 303 whose click is in neither book is lost; the two books must agree. (Requests in
        # flight when wrk stops are recorded but not counted by wrk: the books may exceed it.)
        "lost": max(0, answered - min(counted, events)),
        "books_disagree": abs(counted - events),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode_argument(
        parser,
        quick="5 s per measurement instead of 20 s",
        smoke="20 links, 2 s per measurement",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("IM2_BENCH_POSTGRES_URL"),
        help="a PostgreSQL URL that may be wiped",
    )
    args = parser.parse_args()
    mode = mode_of(args)
    require_tool(NAME, "wrk", "wrk")
    seconds = {Mode.FULL: 20, Mode.QUICK: 5, Mode.SMOKE: 2}[mode]
    sharers = 20 if mode is Mode.SMOKE else 200
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        figures["sqlite"] = run_engine(
            "sqlite", f"sqlite:///{workdir / 'bench.db'}", seconds, workdir, sharers=sharers
        )
        print("sqlite", figures["sqlite"], flush=True)
        if args.postgres:
            figures["postgresql"] = run_engine(
                "postgresql", args.postgres, seconds, workdir, sharers=sharers
            )
            print("postgresql", figures["postgresql"], flush=True)
    targets: dict[str, dict[str, object]] = {}
    for engine, found in figures.items():
        ratio = found["ratio"]
        targets[f"{engine}_ratio_to_noop"] = target(
            ratio, f">= {TARGET_RATIO}", ratio >= TARGET_RATIO, mode=mode
        )
        wrong = found["lost"] + found["books_disagree"]
        targets[f"{engine}_lost_or_disagreeing"] = target(wrong, "== 0", wrong == 0, mode=mode)
    emit(NAME, figures, targets, mode=mode)


if __name__ == "__main__":
    main()
