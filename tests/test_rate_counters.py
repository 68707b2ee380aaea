"""The in-process rate-limit counters (im2/workspaces/counters.py) behind every participant
limit and the sign-in throttle when there is no Redis: a limit holds, it lifts when its window
has passed, racing threads never get more than the limit, and expired counters are dropped
without a thread of their own."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from limits import parse
from limits.strategies import SlidingWindowCounterRateLimiter

from im2.errors import TooManyAttempts
from im2.participation.limits import ActionLimiter
from im2.workspaces import counters
from im2.workspaces.counters import MemoryCounters


def test_a_phone_gets_its_limit_and_not_one_action_more() -> None:
    limiter = ActionLimiter(per_device="3/minute", per_ip="100/minute")
    for _ in range(3):
        limiter.hit(device_id="phone", ip="10.0.0.1")
    with pytest.raises(TooManyAttempts):
        limiter.hit(device_id="phone", ip="10.0.0.1")
    # Another phone on the same network is not held up by the first.
    limiter.hit(device_id="another phone", ip="10.0.0.1")


def test_the_limit_lifts_once_its_window_has_passed() -> None:
    storage = MemoryCounters()
    limiter = SlidingWindowCounterRateLimiter(storage)
    item = parse("2/second")
    assert limiter.hit(item, "phone")
    assert limiter.hit(item, "phone")
    assert not limiter.hit(item, "phone")
    assert not limiter.test(item, "phone")
    # The previous window weighs less as it slides away, and nothing after two windows.
    time.sleep(2.1)
    assert limiter.test(item, "phone")
    assert limiter.hit(item, "phone")


def test_racing_threads_never_get_more_than_the_limit() -> None:
    limiter = SlidingWindowCounterRateLimiter(MemoryCounters())
    item = parse("50/minute")
    granted: list[bool] = []
    start = threading.Barrier(8)

    def hammer() -> None:
        start.wait()
        granted.extend(limiter.hit(item, "one phone") for _ in range(40))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted.count(True) == 50
    assert len(granted) == 320


def test_expired_counters_are_dropped_without_a_thread() -> None:
    storage = MemoryCounters()
    limiter = SlidingWindowCounterRateLimiter(storage)
    item = parse("5/second")
    before = threading.active_count()
    phones = [uuid.uuid4().hex for _ in range(3 * counters.SWEEP_KEYS)]
    for phone in phones:
        assert limiter.hit(item, phone)
    assert len(storage) == len(phones)
    assert threading.active_count() == before  # no timer thread was started
    # Two windows later, a few calls drop them all, a bounded number per call.
    time.sleep(3.1)
    for _ in range(10):
        limiter.hit(item, "a later phone")
    assert len(storage) == 1


def test_clearing_a_limit_lets_the_next_action_through() -> None:
    limiter = SlidingWindowCounterRateLimiter(MemoryCounters())
    item = parse("1/minute")
    assert limiter.hit(item, "login", "10.0.0.9")
    assert not limiter.hit(item, "login", "10.0.0.9")
    limiter.clear(item, "login", "10.0.0.9")
    assert limiter.hit(item, "login", "10.0.0.9")
