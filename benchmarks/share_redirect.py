"""Share-link redirects per second through HTTP, against a no-op endpoint of the same server in
the same run.

    python benchmarks/share_redirect.py [--quick] [--postgres URL]

For each engine (the embedded SQLite default; PostgreSQL when --postgres or
IM2_BENCH_POSTGRES_URL names a database that may be wiped), it migrates a fresh database,
creates a live campaign whose 200 participants each have a share link, starts one `im2` server
process (uvicorn, one worker, as `im2 serve` runs it), and drives it with `wrk` (Debian package)
at 64 connections:

- the ceiling: GET /healthz (no database);
- redirects: GET /s/<code>?ch=wechat over the 200 links, each request a new visitor (no
  cookie), so every request is a click that must be counted and recorded (`share.clicked`).

Afterwards it checks the books: the links' click counters must equal the `share.clicked`
events, and every 303 wrk saw must be among them (none lost). The last printed line is the
JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.participation import (  # noqa: E402
    CONNECTIONS,
    free_port,
    start_server,
    wrk,
)

SHARERS = 200
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


def prepare(url: str) -> list[str]:
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
                objective="engagement",  # type: ignore[arg-type]
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
        for i in range(SHARERS):
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


def run_engine(name: str, url: str, seconds: int, workdir: Path) -> dict[str, float]:
    codes = prepare(url)
    port = free_port()
    server = start_server(url, port)
    try:
        base = f"http://127.0.0.1:{port}"
        wrk(["-t2", f"-c{CONNECTIONS}", "-d2s", base + "/healthz"])  # warm-up
        noop = wrk(["-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", base + "/healthz"])
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
        server.terminate()
        server.wait(timeout=30)
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
    parser.add_argument("--quick", action="store_true", help="5 s per measurement instead of 20 s")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("IM2_BENCH_POSTGRES_URL"),
        help="a PostgreSQL URL that may be wiped",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk); nothing measured")
        print(json.dumps({"benchmark": "share_redirect", "figures": {}, "targets": {}}))
        return
    seconds = 5 if args.quick else 20
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        figures["sqlite"] = run_engine(
            "sqlite", f"sqlite:///{workdir / 'bench.db'}", seconds, workdir
        )
        print("sqlite", figures["sqlite"], flush=True)
        if args.postgres:
            figures["postgresql"] = run_engine("postgresql", args.postgres, seconds, workdir)
            print("postgresql", figures["postgresql"], flush=True)
    targets: dict[str, dict[str, object]] = {}
    for engine, found in figures.items():
        targets[f"{engine}_ratio_to_noop"] = {
            "value": found["ratio"],
            "target": f">= {TARGET_RATIO}",
            "met": found["ratio"] >= TARGET_RATIO,
        }
        targets[f"{engine}_lost_or_disagreeing"] = {
            "value": found["lost"] + found["books_disagree"],
            "target": "== 0",
            "met": found["lost"] + found["books_disagree"] == 0,
        }
        targets[f"{engine}_p99_ms"] = {"value": found["redirect_p99_ms"], "target": "reported"}
    print(json.dumps({"benchmark": "share_redirect", "figures": figures, "targets": targets}))


if __name__ == "__main__":
    main()
