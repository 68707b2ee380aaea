"""Several `im2 serve` processes on one PostgreSQL and one Redis, as a deployment runs them.

Real servers on loopback: a redis-server started here on a free port, a database of its own
on the test PostgreSQL (`<test database>_multi`), and `im2 serve` subprocesses with
IM2_REDIS_URL. What a participant or an operator would notice:
- a vote answered by process A shows on the live results that process B streams;
- a participant's rate limit holds however their requests are spread over A and B;
- an `Idempotency-Key` retried on B gets A's answer, not a second write;
- a stopping server (here one with two workers) answers /readyz with 503 while it drains,
  still serves, ends its live streams with a hint to reconnect, and exits.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
import pytest

from im2.db import Database
from im2.web.context import DEVICE_COOKIE, RequestContextMiddleware
from im2.workspaces.schemas import Role
from tests.analytics.test_dashboard_gaps import console_client, listen
from tests.conftest import (
    PORT_TAKEN,
    Brand,
    _free_port,
    bound_here,
    go_live,
    make_brand,
    new_postgres_database,
    repo_root,
)
from tests.test_crash_votes import _im2
from tests.test_polls import POLL

SECRET = "multiprocess-test-secret-key-long-enough-0123456789"
PER_DEVICE = 3  # participant actions per device per minute, in every process together
START_SECONDS = 180  # a server's start-up on two busy cores can take most of a minute
DRAIN_SECONDS = 4
T = TypeVar("T")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a thread of its own: a browser test earlier in this worker may leave
    Playwright's event loop running in the main thread, where asyncio.run() refuses to start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import redis

        client = redis.Redis(port=port)
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def postgres_url() -> str:
    """A fresh database of this module's own, next to the test PostgreSQL database."""
    base = os.environ.get("IM2_TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        pytest.skip("several server processes need PostgreSQL: set IM2_TEST_DATABASE_URL")
    return new_postgres_database(base, "multi")


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    again: Callable[[], Server]  # the same server started on another free port

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _start(
    database_url: str, redis_url: str, workdir: Path, *, workers: int = 1, **extra: str
) -> Server:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IM2_")}
    env.update(
        IM2_ENV="test",
        IM2_DATABASE_URL=database_url,
        IM2_REDIS_URL=redis_url,
        IM2_SECRET_KEY=SECRET,
        IM2_RUN_SCHEDULER="false",
        IM2_MEDIA_PATH=str(workdir / "media"),
        IM2_LAKE_PATH=str(workdir / "lake"),
        IM2_PARTICIPANT_RATE_PER_DEVICE=f"{PER_DEVICE}/minute",
        # Every phone here comes from 127.0.0.1: the per-address limit is not under test.
        IM2_PARTICIPANT_RATE_PER_IP="10000000/second",
        IM2_RISK_IDENTITIES_PER_IP_HOUR="100000000",
        PYTHONPATH=str(repo_root()),
        **extra,
    )
    log = workdir / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*_im2(), "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Server(
        process=process,
        url=f"http://127.0.0.1:{port}",
        log=log,
        again=lambda: _start(database_url, redis_url, workdir, workers=workers, **extra),
    )


def _wait_ready(servers: list[Server]) -> None:
    """Wait until each server answers `/readyz` itself (see `bound_here`); one whose free port
    was taken first by another test's server is started again, in place, on a new port."""
    deadline = time.monotonic() + START_SECONDS
    for server in servers:
        while True:
            output = server.output()
            if server.process.poll() is not None:
                assert PORT_TAKEN in output, output
                fresh = server.again()
                server.process, server.url, server.log = fresh.process, fresh.url, fresh.log
                continue
            if bound_here(output, server.url):
                try:
                    if httpx.get(server.url + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass  # not answering yet: the loop asks again
            assert time.monotonic() < deadline, f"not ready in time:\n{output}"
            time.sleep(0.1)


def _stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait(timeout=20)


@dataclass
class Deployment:
    a: Server
    b: Server
    c: Server  # `--workers 2`, stopped by the drain test
    brand: Brand
    database_url: str


@pytest.fixture(scope="module")
def deployment(
    postgres_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    db = Database(postgres_url)
    brand = make_brand(db, slug="acme", now=datetime.now(ZoneInfo("UTC")))
    db.dispose()
    workdir = tmp_path_factory.mktemp("servers")
    # Started together: start-up is mostly imports, and three at once take about one's time.
    servers = [
        _start(postgres_url, redis_url, workdir),
        _start(postgres_url, redis_url, workdir),
        _start(postgres_url, redis_url, workdir, workers=2, IM2_DRAIN_SECONDS=str(DRAIN_SECONDS)),
    ]
    try:
        _wait_ready(servers)
        a, b, c = servers
        yield Deployment(a=a, b=b, c=c, brand=brand, database_url=postgres_url)
    finally:
        for server in servers:
            _stop(server)


@dataclass
class LivePoll:
    slug: str
    poll_id: int
    options: list[int]
    campaign_id: int


@pytest.fixture(scope="module")
def poll(deployment: Deployment) -> LivePoll:
    """A live campaign (running now) with a poll whose results are public, made through A."""
    brand = deployment.brand
    shanghai = datetime.now(ZoneInfo("Asia/Shanghai")).replace(microsecond=0, tzinfo=None)
    with httpx.Client(base_url=deployment.a.url, timeout=60) as http:
        campaign = go_live(
            http,
            brand,
            slug="multi",
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
    return LivePoll(
        slug=campaign["slug"], poll_id=poll_id, options=options, campaign_id=campaign["id"]
    )


def _phone() -> dict[str, str]:
    """A new phone's signed device cookie."""
    signer = RequestContextMiddleware(
        lambda *_: None,  # type: ignore[arg-type]
        default_locale="zh_CN",
        secret_key=SECRET,
    ).device_signer
    return {"Cookie": f"{DEVICE_COOKIE}={signer.dumps(uuid.uuid4().hex)}"}


def _vote(server: Server, poll: LivePoll, phone: dict[str, str], option: int) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/v1/public/campaigns/{poll.slug}/polls/{poll.poll_id}/votes",
        json={"options": [option], "consent": True},
        headers=phone,
        timeout=60,
    )


class Stream:
    """An SSE stream read in a thread: each event as a dict of its fields, in order; None
    when the server ended the stream."""

    def __init__(self, url: str) -> None:
        self.events: queue.Queue[dict[str, str] | None] = queue.Queue()
        self.opened = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url,), daemon=True)
        self._thread.start()
        assert self.opened.wait(60), "the stream did not open"

    def _read(self, url: str) -> None:
        try:
            with httpx.stream("GET", url, timeout=httpx.Timeout(10, read=60)) as response:
                assert response.status_code == 200, response.read()
                self.opened.set()
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if not line:
                        if fields:
                            self.events.put(fields)
                        fields = {}
                        continue
                    name, _, value = line.partition(":")
                    fields[name or "comment"] = value.removeprefix(" ")
                if fields:
                    self.events.put(fields)
        except httpx.HTTPError:
            pass  # the server went away mid-stream (the module's servers are killed at the end)
        finally:
            self.events.put(None)

    def next(self, timeout: float) -> dict[str, str] | None:
        return self.events.get(timeout=timeout)

    def results_until(self, wanted: Any, timeout: float) -> dict[str, Any]:
        """Read result snapshots until one satisfies `wanted(results)`."""
        deadline = time.monotonic() + timeout
        seen: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            try:
                event = self.next(max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            assert event is not None, f"the stream ended; seen {seen}"
            if event.get("event") == "results":
                results: dict[str, Any] = json.loads(event["data"])
                seen.append(results)
                if wanted(results):
                    return results
        raise AssertionError(f"no such snapshot within {timeout} s; seen {seen}")


def _votes_for(results: dict[str, Any], option: int) -> int:
    return next(int(o["votes"]) for o in results["options"] if o["id"] == option)


def test_a_vote_through_one_process_shows_on_another_process_live_results(
    deployment: Deployment, poll: LivePoll
) -> None:
    stream = Stream(f"{deployment.b.url}/live/c/{poll.slug}/poll/{poll.poll_id}?screen=1")
    option = poll.options[1]
    first = stream.results_until(lambda r: True, timeout=30)
    before = _votes_for(first, option)

    answer = _vote(deployment.a, poll, _phone(), option)
    assert answer.status_code == 201, answer.text

    stream.results_until(lambda r: _votes_for(r, option) == before + 1, timeout=30)


def test_a_vote_through_one_process_moves_the_dashboard_another_process_streams(
    deployment: Deployment, poll: LivePoll
) -> None:
    # Given an analyst watching the campaign's dashboard, served by process B.
    console = console_client(deployment.b, deployment.brand.emails[Role.ANALYST])
    found: list[dict[str, Any]] = []
    ready = threading.Event()
    url = f"/console/w/acme/campaigns/{poll.campaign_id}/analytics/stream"
    listener = threading.Thread(
        target=listen,
        args=(console, url, "overview", 2),
        kwargs={"found": found, "ready": ready},
        daemon=True,
    )
    listener.start()
    assert ready.wait(60)
    # When a participant votes through process A,
    answer = _vote(deployment.a, poll, _phone(), poll.options[0])
    assert answer.status_code == 201, answer.text
    # then B pushes a new overview: A's event writer rang the campaign over Redis after its
    # commit (B never asks the database whether something happened).
    listener.join(timeout=60)
    console.close()
    assert len(found) == 2, found
    assert found[-1] != found[0]


def test_a_participants_rate_limit_holds_across_processes(
    deployment: Deployment, poll: LivePoll
) -> None:
    phone = _phone()
    statuses = []
    # The same phone, its requests spread over A and B as a load balancer would.
    for i in range(PER_DEVICE + 2):
        server = deployment.a if i % 2 == 0 else deployment.b
        statuses.append(_vote(server, poll, phone, poll.options[0]).status_code)
    # Within the limit: the first vote counts, the repeats are refused as repeats (409);
    # then 429 on whichever process, although neither saw more than the limit alone.
    assert statuses[0] == 201
    assert set(statuses[1:PER_DEVICE]) == {409}
    assert statuses[PER_DEVICE:] == [429, 429]


def test_an_idempotency_key_retried_on_another_process_gets_the_first_answer(
    deployment: Deployment,
) -> None:
    owner = {**deployment.brand.auth(Role.OWNER), "Idempotency-Key": uuid.uuid4().hex}
    body = {
        "name": "retried",
        "slug": "retried",
        "objective": "engagement",
        "timezone": "Asia/Shanghai",
        "starts_at": "2026-03-10T10:00:00",
        "ends_at": "2026-03-20T22:00:00",
    }
    first = httpx.post(f"{deployment.a.url}/api/v1/campaigns", json=body, headers=owner, timeout=60)
    again = httpx.post(f"{deployment.b.url}/api/v1/campaigns", json=body, headers=owner, timeout=60)
    assert first.status_code == 201, first.text
    assert (again.status_code, again.json()) == (201, first.json())
    listed = httpx.get(
        f"{deployment.b.url}/api/v1/campaigns",
        headers=deployment.brand.auth(Role.OWNER),
        timeout=60,
    ).json()
    assert [c["slug"] for c in listed["items"]].count("retried") == 1


def test_a_stopping_server_drains_readiness_first_then_its_streams(
    deployment: Deployment, poll: LivePoll
) -> None:
    """C runs two workers behind one port (`im2 serve --workers 2`): the supervisor passes
    SIGTERM to both, and each drains."""
    server = deployment.c
    stream = Stream(f"{server.url}/live/c/{poll.slug}/poll/{poll.poll_id}?screen=1")
    stream.results_until(lambda r: True, timeout=30)

    server.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 5
    while httpx.get(server.url + "/readyz", timeout=5).status_code != 503:
        assert time.monotonic() < deadline, "readiness did not turn 503"
        time.sleep(0.05)
    # Draining, not gone: everything else is still served, the live stream still open.
    assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200
    answer = _vote(server, poll, _phone(), poll.options[2])
    assert answer.status_code == 201, answer.text
    assert stream.opened.is_set()

    # After the drain the stream ends with a hint to reconnect (elsewhere), then the process
    # exits on its own.
    last: dict[str, str] | None = {}
    ends = time.monotonic() + DRAIN_SECONDS + 30
    hints = []
    while last is not None and time.monotonic() < ends:
        last = stream.next(timeout=DRAIN_SECONDS + 30)
        if last and "retry" in last:
            hints.append(int(last["retry"]))
    assert last is None, "the stream did not end"
    assert hints, "no reconnect hint"
    assert 1000 <= hints[-1] <= 5000, hints
    assert server.process.wait(timeout=60) in (0, -signal.SIGTERM), server.output()
    # The vote answered while draining is counted (the other processes show it).
    with httpx.Client(base_url=deployment.a.url, timeout=60) as http:
        results = http.get(
            f"/api/v1/polls/{poll.poll_id}/results", headers=deployment.brand.auth(Role.OWNER)
        ).json()
    assert _votes_for(results, poll.options[2]) >= 1


@pytest.mark.parametrize(
    ("database_url", "redis", "says"),
    [
        ("sqlite:///./im2.db", "redis://127.0.0.1:1/0", "needs PostgreSQL"),
        ("postgresql+psycopg://im2:im2@127.0.0.1:1/im2", None, "needs IM2_REDIS_URL"),
    ],
)
def test_serve_refuses_several_workers_where_processes_would_not_share_state(
    monkeypatch: pytest.MonkeyPatch, database_url: str, redis: str | None, says: str
) -> None:
    from typer.testing import CliRunner

    from im2.cli import app
    from im2.config import get_settings

    monkeypatch.setenv("IM2_DATABASE_URL", database_url)
    if redis:
        monkeypatch.setenv("IM2_REDIS_URL", redis)
    else:
        monkeypatch.delenv("IM2_REDIS_URL", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["serve", "--workers", "2", "--port", "1"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert says in " ".join(result.output.split())


def test_rate_limits_still_hold_in_each_process_while_redis_is_away() -> None:
    from im2.errors import TooManyAttempts
    from im2.participation.limits import ActionLimiter

    # Nothing listens on port 1: every call to Redis fails at once.
    limiter = ActionLimiter(
        per_device="2/minute", per_ip="100/minute", redis_url="redis://127.0.0.1:1/0"
    )
    limiter.hit(device_id="phone", ip="10.0.0.1")
    limiter.hit(device_id="phone", ip="10.0.0.1")
    with pytest.raises(TooManyAttempts):
        limiter.hit(device_id="phone", ip="10.0.0.1")
    limiter.hit(device_id="another phone", ip="10.0.0.1")


def test_a_route_on_the_event_loop_counts_against_the_same_limit(redis_url: str) -> None:
    from im2.errors import TooManyAttempts
    from im2.participation.limits import ActionLimiter

    limiter = ActionLimiter(per_device="2/minute", per_ip="100/minute", redis_url=redis_url)
    other_process = ActionLimiter(per_device="2/minute", per_ip="100/minute", redis_url=redis_url)
    phone = uuid.uuid4().hex

    async def votes() -> None:
        try:
            await limiter.ahit(device_id=phone, ip="10.0.0.2")
            other_process.hit(device_id=phone, ip="10.0.0.2")
            with pytest.raises(TooManyAttempts):
                await limiter.ahit(device_id=phone, ip="10.0.0.2")
        finally:
            await limiter.aclose()

    _run(votes())


def test_viewers_of_two_processes_end_on_the_same_snapshot(redis_url: str) -> None:
    """Two processes' hubs (here two hubs on one loop) publish interleaved snapshots of one
    channel, from writer threads as commits do: every viewer ends on the same one."""

    from im2.live.redis_hub import RedisHub

    async def scenario() -> tuple[list[str | None], list[str | None]]:
        prefix = f"test:{uuid.uuid4().hex}:"
        hubs = [RedisHub(redis_url, prefix=prefix), RedisHub(redis_url, prefix=prefix)]
        loop = asyncio.get_running_loop()
        for hub in hubs:
            await hub.start(loop)
        try:
            last: list[str | None] = [None, None]

            async def watch(i: int) -> None:
                async for message in hubs[i].subscribe("poll:1", first=None, heartbeat=0.5):
                    if message is not None:
                        last[i] = message

            viewers = [asyncio.create_task(watch(0)), asyncio.create_task(watch(1))]
            await asyncio.sleep(0.1)

            def writer(i: int) -> None:
                for n in range(200):
                    hubs[i].publish("poll:1", {"process": i, "n": n})

            await asyncio.gather(*(asyncio.to_thread(writer, i) for i in (0, 1)))
            await asyncio.sleep(1.0)
            for viewer in viewers:
                viewer.cancel()
            return last, [hub.latest("poll:1") for hub in hubs]
        finally:
            for hub in hubs:
                await hub.close()

    viewers, latest = _run(scenario())
    assert viewers[0] is not None
    assert viewers[0] == viewers[1] == latest[0] == latest[1]
    assert json.loads(viewers[0])["n"] == 199  # the last of one of the two writers
