"""Two `im2 serve` processes on one PostgreSQL and one Redis; process A is killed with SIGKILL
under vote load, again and again (ROUNDS times), while B keeps serving.

What a participant and an operator must be able to rely on, in every round:
- every vote answered 2xx (by A before it died, or by B) is in the database, as answered;
- nobody has two ballots, not even those whose vote A never answered and who sent it again
  through B (they are counted then, or told they already voted);
- B answers votes while A dies and after, and the results count every ballot once.

The kill is chosen by progress (after KILL_AFTER votes answered by A in the round), not by a
timer. Each round's server logs and a summary are kept in test-artifacts/kill9-loop/.
Real servers on loopback, as tests/test_multiprocess.py starts them (its fixtures and helpers).
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text

from im2.db import Database
from im2.workspaces.schemas import Role
from tests.conftest import go_live, make_brand
from tests.test_multiprocess import (
    LivePoll,
    Server,
    _phone,
    _start,
    _stop,
    _vote,
    _wait_ready,
    postgres_url,  # noqa: F401 (fixture)
    redis_url,  # noqa: F401 (fixture)
)
from tests.test_polls import POLL

ROUNDS = 3
VOTERS_A = 12  # concurrent connections voting through A
VOTERS_B = 4  # and through B, all along
KILL_AFTER = 80  # votes answered by A in a round before it is killed
AFTER_KILL_SECONDS = 2.0  # B's voters go on this long after the kill


def _ballots(db: Database, poll_id: int) -> dict[int, int]:
    """Ballot id -> participant id, as the database holds them."""
    with db.session() as session:
        rows = session.execute(
            text("SELECT id, participant_id FROM poll_ballots WHERE activity_id = :a"),
            {"a": poll_id},
        )
        return {int(r[0]): int(r[1]) for r in rows}


@pytest.fixture
def kept(artifacts: Path) -> Path:
    folder = artifacts / "kill9-loop"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _poll(server: Server, database_url: str) -> tuple[LivePoll, Any]:
    db = Database(database_url)
    brand = make_brand(db, slug="kill9", now=datetime.now(ZoneInfo("UTC")))
    db.dispose()
    shanghai = datetime.now(ZoneInfo("Asia/Shanghai")).replace(microsecond=0, tzinfo=None)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        campaign = go_live(
            http,
            brand,
            slug="kill9",
            starts_at=(shanghai - timedelta(days=1)).isoformat(),
            ends_at=(shanghai + timedelta(days=1)).isoformat(),
        )
        created = http.post(
            f"/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=brand.auth(Role.OWNER)
        )
        assert created.status_code == 201, created.text
        poll_id = created.json()["id"]
        results = http.get(f"/api/v1/polls/{poll_id}/results", headers=brand.auth(Role.OWNER))
        options = [o["id"] for o in results.json()["options"]]
    live = LivePoll(slug=campaign["slug"], poll_id=poll_id, options=options, campaign_id=0)
    return live, brand


def test_server_a_killed_under_vote_load_again_and_again_loses_and_doubles_nothing(
    postgres_url: str,  # noqa: F811
    redis_url: str,  # noqa: F811
    tmp_path: Path,
    kept: Path,
) -> None:
    # Every A of the loop starts with B, at once: a server's start-up is mostly imports, and
    # starting one after each kill would make start-ups most of the test's time.
    b = _start(postgres_url, redis_url, tmp_path)
    spares = [_start(postgres_url, redis_url, tmp_path) for _ in range(ROUNDS)]
    servers = [b, *spares]
    db = Database(postgres_url)
    rounds: list[dict[str, Any]] = []
    began = time.monotonic()
    try:
        _wait_ready(servers)
        poll, brand = _poll(b, postgres_url)
        started = round(time.monotonic() - began, 1)
        answered: dict[str, int] = {}  # phone cookie -> ballot id of its 2xx, all rounds
        phones: dict[str, dict[str, str]] = {}
        for number, a in enumerate(spares, start=1):
            summary = _round(number, a, b, poll, answered, phones, db, kept)
            rounds.append(summary)
            _keep_log(a, kept / f"round-{number}-server-a.log")
            (kept / "summary.json").write_text(
                json.dumps({"servers_ready_seconds": started, "rounds": rounds}, indent=2)
            )
        with httpx.Client(base_url=b.url, timeout=60) as http:
            results = http.get(
                f"/api/v1/polls/{poll.poll_id}/results", headers=brand.auth(Role.OWNER)
            ).json()
        stored = _ballots(db, poll.poll_id)
        assert results["ballots"] == len(stored) >= len(answered)
    finally:
        for server in servers:
            _stop(server)
        _keep_log(b, kept / "server-b.log")
        db.dispose()


def _cast(http: httpx.Client, poll: LivePoll, phone: dict[str, str], option: int) -> httpx.Response:
    http.cookies.clear()  # each vote is from its own phone, whatever the last one was given
    return http.post(
        f"/api/v1/public/campaigns/{poll.slug}/polls/{poll.poll_id}/votes",
        json={"options": [option], "consent": True},
        headers=phone,
    )


def _keep_log(server: Server, to: Path) -> None:
    if server.log.exists():
        shutil.copyfile(server.log, to)


def _round(
    number: int,
    a: Server,
    b: Server,
    poll: LivePoll,
    answered: dict[str, int],
    phones: dict[str, dict[str, str]],
    db: Database,
    kept: Path,
) -> dict[str, Any]:
    began = time.monotonic()
    lock = threading.Lock()
    by_a = threading.Event()
    killed = threading.Event()
    stop_b = threading.Event()
    counts = {"a": 0, "b": 0, "b_after_kill": 0}
    refused: dict[str, int] = {}
    unanswered: dict[str, dict[str, str]] = {}

    def one(http: httpx.Client, name: str) -> None:
        phone = _phone()
        key = phone["Cookie"]
        with lock:
            phones[key] = phone
        option = poll.options[len(phones) % len(poll.options)]
        try:
            answer = _cast(http, poll, phone, option)
        except httpx.TransportError:
            with lock:
                unanswered[key] = phone
            return
        with lock:
            if answer.is_success:
                answered[key] = answer.json()["ballot_id"]
                counts[name] += 1
                if name == "b" and killed.is_set():
                    counts["b_after_kill"] += 1
                if name == "a" and counts["a"] >= KILL_AFTER:
                    by_a.set()
            else:
                refused[key] = answer.status_code

    # One kept-alive connection per voter (a client per vote would cost the test more CPU
    # than the servers' votes): A dies with requests in flight on them.
    def voter_a() -> None:
        with httpx.Client(base_url=a.url, timeout=60) as http:
            while not killed.is_set():
                one(http, "a")

    def voter_b() -> None:
        with httpx.Client(base_url=b.url, timeout=60) as http:
            while not stop_b.is_set():
                one(http, "b")

    with ThreadPoolExecutor(max_workers=VOTERS_A + VOTERS_B) as pool:
        voting = [pool.submit(voter_a) for _ in range(VOTERS_A)]
        voting += [pool.submit(voter_b) for _ in range(VOTERS_B)]
        try:
            reached = by_a.wait(timeout=120)
        finally:
            a.process.send_signal(signal.SIGKILL)
            killed.set()
        time.sleep(AFTER_KILL_SECONDS)
        stop_b.set()
        for done in voting:
            done.result()
    assert a.process.wait(timeout=10) == -signal.SIGKILL
    summary: dict[str, Any] = {
        "round": number,
        "answered_by_a": counts["a"],
        "answered_by_b": counts["b"],
        "answered_by_b_after_kill": counts["b_after_kill"],
        "unanswered_by_a": len(unanswered),
        "refused": refused,
    }
    (kept / f"round-{number}.json").write_text(json.dumps(summary, indent=2))
    assert reached, summary
    assert refused == {}, summary
    assert counts["b_after_kill"] > 0, f"B answered nothing after A died: {summary}"

    # Every answered vote is in the database, as answered; nobody has two ballots.
    stored = _ballots(db, poll.poll_id)
    lost = set(answered.values()) - set(stored)
    assert not lost, f"{len(lost)} votes answered 2xx are not in the database: {summary}"
    assert len(set(stored.values())) == len(stored), "someone has two ballots"

    # Those A never answered send their vote again, through B: counted now, or refused as a
    # repeat (A had committed it before dying); never a second ballot.
    again: dict[str, int] = {}
    for key, phone in unanswered.items():
        answer = _vote(b, poll, phone, poll.options[0])
        again[key] = answer.status_code
        if answer.is_success:
            answered[key] = answer.json()["ballot_id"]
    summary["retried_through_b"] = sorted(again.values())
    (kept / f"round-{number}.json").write_text(json.dumps(summary, indent=2))
    assert set(again.values()) <= {201, 409}, again
    stored = _ballots(db, poll.poll_id)
    lost = set(answered.values()) - set(stored)
    assert not lost, f"{len(lost)} votes answered 2xx on a retry are not in the database"
    assert len(set(stored.values())) == len(stored), "someone has two ballots after a retry"
    # Each phone that ever sent a vote has at most one ballot, and every answered one has one.
    assert len(answered) <= len(stored) <= len(phones)
    summary["ballots_in_database"] = len(stored)
    summary["seconds"] = round(time.monotonic() - began, 1)
    (kept / f"round-{number}.json").write_text(json.dumps(summary, indent=2))
    return summary
