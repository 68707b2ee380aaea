"""A real `im2 serve` process killed with SIGKILL while people vote, then started again.

What a participant must be able to rely on: a vote that was answered 201 is counted after any
crash, and a vote whose answer was lost in the crash can be sent again without being counted
twice. The kill is chosen by progress (after a number of answered votes), not by a timer.
This is a process crash; a power cut is tests/test_durability.py's subject.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text

from im2.db import Database
from im2.migrations import upgrade
from im2.web.context import DEVICE_COOKIE, RequestContextMiddleware
from im2.workspaces.schemas import Role
from tests.conftest import (
    PORT_TAKEN,
    _free_port,
    bound_here,
    go_live,
    make_brand,
    new_postgres_database,
    repo_root,
)
from tests.test_polls import POLL

SECRET = "crash-test-secret-key-that-is-long-enough-0123456789"
VOTERS = 32  # concurrent connections, each one phone after another
PHONES_PER_VOTER = 60  # far more than get through before the kill
KILL_AFTER = 240  # answered votes before the server is killed


def _im2() -> list[str]:
    script = Path(sys.executable).with_name("im2")
    if script.exists():
        return [str(script)]
    found = shutil.which("im2")
    assert found, "the im2 command is not installed (pip install -e .)"
    return [found]


@contextmanager
def im2_serve(database_url: str, workdir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`im2 serve` on a free loopback port, as an operator starts it; yields (process, url)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IM2_")}
    env.update(
        IM2_ENV="test",
        IM2_DATABASE_URL=database_url,
        IM2_SECRET_KEY=SECRET,
        IM2_RUN_SCHEDULER="false",
        IM2_MEDIA_PATH=str(workdir / "media"),
        IM2_LAKE_PATH=str(workdir / "lake"),
        # Every phone here comes from 127.0.0.1: the per-address limits are not under test.
        IM2_PARTICIPANT_RATE_PER_IP="10000000/second",
        IM2_RISK_IDENTITIES_PER_IP_HOUR="100000000",
        PYTHONPATH=str(repo_root()),
    )
    deadline = time.monotonic() + 120
    while True:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log_path = workdir / f"server-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [*_im2(), "serve", "--port", str(port)],
                env=env,
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            if _ready(process, url, log_path, deadline):
                break
        except BaseException:
            _end(process)
            raise
    try:
        yield process, url
    finally:
        _end(process)


def _ready(process: subprocess.Popen[bytes], url: str, log: Path, deadline: float) -> bool:
    """Wait until this process answers on `url`; False when its port was taken before it bound."""
    while True:
        output = log.read_text(errors="replace")
        if process.poll() is not None:
            assert PORT_TAKEN in output, output
            return False
        if bound_here(output, url):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
        assert time.monotonic() < deadline, "im2 serve did not answer within 120 s"
        time.sleep(0.05)


def _end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ballots(db: Database, activity_id: int) -> dict[int, int]:
    """Ballot id -> participant id, as the database holds them."""
    with db.session() as session:
        rows = session.execute(
            text("SELECT id, participant_id FROM poll_ballots WHERE activity_id = :a"),
            {"a": activity_id},
        )
        return {int(r[0]): int(r[1]) for r in rows}


@pytest.fixture
def own_db(tmp_path: Path) -> Iterator[Database]:
    """A database of this test's own, not the worker's shared one: the servers it starts and
    kills are other processes, and what they see must not depend on what earlier tests in this
    worker did to the shared file (a run once saw the shared SQLite file's newest commits
    missing from a new process's view). SQLite: a file here; PostgreSQL: a database next to
    the test one."""
    base = os.environ.get("IM2_TEST_DATABASE_URL", "")
    if base.startswith("postgresql"):
        url = new_postgres_database(base, "crash")
    else:
        url = f"sqlite:///{tmp_path / 'crash.db'}"
        upgrade(url)
    db = Database(url)
    yield db
    db.dispose()


def test_every_answered_vote_survives_a_killed_server_and_none_counts_twice(
    own_db: Database, tmp_path: Path
) -> None:
    db = own_db
    brand = make_brand(db, slug="acme", now=datetime.now(ZoneInfo("UTC")))
    signer = RequestContextMiddleware(
        lambda *_: None,  # type: ignore[arg-type]
        default_locale="zh_CN",
        secret_key=SECRET,
    ).device_signer
    phones = [signer.dumps(uuid.uuid4().hex) for _ in range(VOTERS * PHONES_PER_VOTER)]
    shanghai = datetime.now(ZoneInfo("Asia/Shanghai")).replace(microsecond=0, tzinfo=None)
    answered: dict[int, int] = {}  # phone -> ballot id of its 201
    refused: dict[int, int] = {}  # phone -> any other status (none expected)
    unanswered: set[int] = set()  # phone whose request got no answer at all
    lock = threading.Lock()
    enough = threading.Event()
    killed = threading.Event()

    with im2_serve(db.url, tmp_path) as (server, url):
        with httpx.Client(base_url=url, timeout=60) as http:
            campaign = go_live(
                http,
                brand,
                starts_at=(shanghai - timedelta(days=1)).isoformat(),
                ends_at=(shanghai + timedelta(days=1)).isoformat(),
            )
            poll = http.post(
                f"/api/v1/campaigns/{campaign['id']}/polls",
                json=POLL,
                headers=brand.auth(Role.OWNER),
            )
            assert poll.status_code == 201, poll.text
            poll_id = poll.json()["id"]
            results_url = f"/api/v1/polls/{poll_id}/results"
            results = http.get(results_url, headers=brand.auth(Role.OWNER)).json()
            options = [o["id"] for o in results["options"]]
        vote_path = f"/api/v1/public/campaigns/{campaign['slug']}/polls/{poll_id}/votes"

        def vote(phone: int, client: httpx.Client) -> httpx.Response:
            body = {"options": [options[phone % len(options)]], "consent": True}
            cookie = {"Cookie": f"{DEVICE_COOKIE}={phones[phone]}"}
            return client.post(vote_path, json=body, headers=cookie)

        def voter(first: int) -> None:
            with httpx.Client(base_url=url, timeout=30) as client:
                for phone in range(first, len(phones), VOTERS):
                    if killed.is_set():
                        return
                    try:
                        answer = vote(phone, client)
                    except httpx.TransportError:
                        with lock:
                            unanswered.add(phone)
                        if killed.is_set():
                            return
                        continue
                    with lock:
                        if answer.status_code == 201:
                            answered[phone] = answer.json()["ballot_id"]
                            if len(answered) >= KILL_AFTER:
                                enough.set()
                        else:
                            refused[phone] = answer.status_code

        with ThreadPoolExecutor(max_workers=VOTERS) as pool:
            voting = [pool.submit(voter, i) for i in range(VOTERS)]
            try:
                started = enough.wait(timeout=60)
            finally:
                server.send_signal(signal.SIGKILL)
                killed.set()
            for done in voting:
                done.result()
        assert started, (len(answered), refused, len(unanswered))
        assert server.wait(timeout=10) == -signal.SIGKILL

    assert refused == {}
    assert unanswered, "the kill caught no vote in flight"
    assert len(answered) < len(phones), "every vote got through before the kill"
    # Every answered vote is in the database, exactly as answered.
    stored = _ballots(db, poll_id)
    assert set(answered.values()) <= set(stored)
    assert len(stored) <= len(answered) + len(unanswered)
    assert len(set(stored.values())) == len(stored), "someone has two ballots"

    with (
        im2_serve(db.url, tmp_path) as (_server, url),
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        # The phones that never heard back vote again: counted now, or refused as a repeat.
        again = {phone: vote(phone, client).status_code for phone in sorted(unanswered)}
        assert set(again.values()) <= {201, 409}, again
        # Those answered before the crash are refused: their vote was kept.
        repeats = [vote(phone, client).status_code for phone in list(answered)[:50]]
        assert repeats == [409] * len(repeats)
        # And the restarted server takes new votes.
        newcomer = max(set(range(len(phones))) - set(answered) - unanswered)
        assert vote(newcomer, client).status_code == 201
        results = client.get(results_url, headers=brand.auth(Role.OWNER)).json()

    stored = _ballots(db, poll_id)
    voted = set(answered) | unanswered | {newcomer}
    assert len(stored) == len(voted)  # each phone that voted has exactly one ballot
    assert len(set(stored.values())) == len(stored)
    assert results["ballots"] == len(stored)
