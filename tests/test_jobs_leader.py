"""The periodic jobs run in one process of a deployment at a time (PostgreSQL advisory lock).

An operator runs several web servers and `im2 worker` processes on one PostgreSQL: each job must
run once per tick across all of them, never in two at once, and when the process that runs them
dies (kill -9 included) another one takes over and runs them again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from im2 import jobs
from im2.clock import ManualClock
from im2.db import Database
from tests.conftest import START, repo_root
from tests.test_crash_votes import _im2

SECRET = "jobs-leader-test-secret-key-long-enough-0123456789"


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("the jobs leader is a PostgreSQL advisory lock (set IM2_TEST_DATABASE_URL)")
    return database_url


def test_two_runners_one_leader_and_the_other_takes_over(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two runners, each with its own database pool (as two processes have), and a job
    # that records which runner ran it.
    first, second = Database(postgres_url), Database(postgres_url)
    runs: list[str] = []
    names = {id(first): "first", id(second): "second"}
    monkeypatch.setattr(
        jobs, "JOBS", (jobs.Job("record", lambda db, _clock: runs.append(names[id(db)])),)
    )

    async def scenario() -> tuple[list[str], list[str]]:
        clock = ManualClock(START)
        a = asyncio.create_task(jobs.run_jobs_forever(first, clock, interval=0.05))
        await asyncio.sleep(0.3)  # the first runner leads before the second starts
        b = asyncio.create_task(jobs.run_jobs_forever(second, clock, interval=0.05))
        await asyncio.sleep(1.0)
        both = list(runs)
        # When the leader stops, the other one leads from its next tick.
        a.cancel()
        await asyncio.gather(a, return_exceptions=True)
        runs.clear()
        await asyncio.sleep(1.0)
        after = list(runs)
        b.cancel()
        await asyncio.gather(b, return_exceptions=True)
        return both, after

    try:
        # In a thread of its own: a browser test earlier in this worker may leave Playwright's
        # event loop running in the main thread, where asyncio.run() refuses to start.
        with ThreadPoolExecutor(1) as pool:
            both, after = pool.submit(asyncio.run, scenario()).result()
    finally:
        first.dispose()
        second.dispose()
    # Then while both ran, only the leader ran the job, once per tick.
    assert set(both) == {"first"}
    assert 5 <= len(both) <= 40
    # And after it stopped, the other one did.
    assert set(after) == {"second"}
    assert len(after) >= 5


@pytest.fixture
def workers(postgres_url: str, tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IM2_")}
    env.update(
        IM2_ENV="test",
        IM2_DATABASE_URL=postgres_url,
        IM2_SECRET_KEY=SECRET,
        IM2_MEDIA_PATH=str(tmp_path / "media"),
        IM2_LAKE_PATH=str(tmp_path / "lake"),
        PYTHONPATH=str(repo_root()),
    )
    logs = [(tmp_path / f"worker{i}.log").open("w") for i in range(2)]
    started = [
        subprocess.Popen(
            [*_im2(), "worker", "--interval", "0.5"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )
        for log in logs
    ]
    yield started
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    for log in logs:
        log.close()


def _leading(tmp_path: Path, count: int) -> list[int]:
    return [
        i
        for i in range(count)
        if "leads the periodic jobs" in (tmp_path / f"worker{i}.log").read_text()
    ]


def _wait_for(condition: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)


def test_kill_9_of_the_leading_worker_hands_the_jobs_to_the_other(
    workers: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    # Given two `im2 worker` processes on one database: exactly one leads.
    _wait_for(lambda: _leading(tmp_path, 2), 120)
    time.sleep(2)  # both have ticked several times by now
    leaders = _leading(tmp_path, 2)
    assert len(leaders) == 1, [p.read_text() for p in tmp_path.glob("worker*.log")]
    [leader] = leaders
    other = 1 - leader
    # When the leader is killed without a chance to clean up,
    workers[leader].send_signal(signal.SIGKILL)
    workers[leader].wait(30)
    # then the other worker leads within a few ticks (PostgreSQL drops the dead connection's lock).
    _wait_for(lambda: other in _leading(tmp_path, 2), 60)
    assert other in _leading(tmp_path, 2), (tmp_path / f"worker{other}.log").read_text()
    assert workers[other].poll() is None
    # And it stops cleanly on SIGTERM.
    workers[other].send_signal(signal.SIGTERM)
    assert workers[other].wait(60) == 0
    assert "worker: stopped" in (tmp_path / f"worker{other}.log").read_text()
