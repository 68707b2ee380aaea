"""Sliding-window counters in this process, for the `limits` library's sliding-window strategy.

`limits`' own `MemoryStorage` expires keys from a `threading.Timer` that it starts afresh,
as a new thread, every 10 ms while counters are being hit, and each timer walks every key.
On the vote's path that is the event loop starting about a hundred threads a second, each
start waiting until the new thread has run (on a busy two-core machine, milliseconds in which
the loop serves nobody), and a walk over every device seen in the last two windows. Here
expiry needs no thread: each counter's key is filed under the second it expires, and calls
drop the keys of seconds gone by, a bounded number at a time, at most once a second.

Same arithmetic as `MemoryStorage` (the sliding window counter: the previous window's count
weighted by how much of it still overlaps, plus the current count); the check and the count
are one step under a lock, so two threads can never both take the last place.
"""

from __future__ import annotations

import threading
import time
from math import floor

from limits.storage.base import SlidingWindowCounterSupport, Storage, TimestampedSlidingWindow

SWEEP_EVERY_SECONDS = 1.0
SWEEP_KEYS = 1_000  # at most this many expired keys dropped per call, so no call stalls


class MemoryCounters(Storage, SlidingWindowCounterSupport, TimestampedSlidingWindow):
    """Thread-safe; not registered under a URL scheme (made directly)."""

    STORAGE_SCHEME = None

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._expires: dict[str, float] = {}
        self._due: dict[int, list[str]] = {}  # second -> keys that expire within it
        self._next_sweep = 0.0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    # --- under the lock ---------------------------------------------------------------

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        budget = SWEEP_KEYS
        for second in sorted(s for s in self._due if s <= now):
            keys = self._due[second]
            while keys and budget:
                key = keys.pop()
                budget -= 1
                if self._expires.get(key, now + 1) <= now:
                    del self._expires[key]
                    self._counts.pop(key, None)
            if keys:
                return  # the budget is spent: the next call goes on from here
            del self._due[second]
        self._next_sweep = now + SWEEP_EVERY_SECONDS

    def _get(self, key: str, now: float) -> int:
        if self._expires.get(key, now + 1) <= now:
            del self._expires[key]
            self._counts.pop(key, None)
        return self._counts.get(key, 0)

    def _incr(self, key: str, expiry: float, amount: int, now: float) -> int:
        count = self._get(key, now) + amount
        self._counts[key] = count
        if count == amount:  # a new counter: it lives `expiry` from its first count
            expires = now + expiry
            self._expires[key] = expires
            self._due.setdefault(int(expires) + 1, []).append(key)
        return count

    def _window(self, key: str, expiry: int, now: float) -> tuple[int, float, int, float]:
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        previous = self._get(previous_key, now)
        current = self._get(current_key, now)
        previous_ttl = 0.0 if previous == 0 else (1 - (((now - expiry) / expiry) % 1)) * expiry
        current_ttl = (1 - ((now / expiry) % 1)) * expiry + expiry
        return previous, previous_ttl, current, current_ttl

    # --- the storage interface ----------------------------------------------------------

    def acquire_sliding_window_entry(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> bool:
        if amount > limit:
            return False
        with self._lock:
            now = time.time()
            self._sweep(now)
            previous, previous_ttl, current, _ = self._window(key, expiry, now)
            if floor(previous * previous_ttl / expiry + current) + amount > limit:
                return False
            # Twice the window, as `MemoryStorage`: it is the previous window for as long again.
            self._incr(self.sliding_window_keys(key, expiry, now)[1], 2 * expiry, amount, now)
            return True

    def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        with self._lock:
            return self._window(key, expiry, time.time())

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        for window_key in self.sliding_window_keys(key, expiry, time.time()):
            self.clear(window_key)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        with self._lock:
            now = time.time()
            self._sweep(now)
            return self._incr(key, expiry, amount, now)

    def get(self, key: str) -> int:
        with self._lock:
            return self._get(key, time.time())

    def get_expiry(self, key: str) -> float:
        with self._lock:
            return self._expires.get(key, time.time())

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            count = len(self._counts)
            self._counts.clear()
            self._expires.clear()
            self._due.clear()
            return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)
            self._expires.pop(key, None)

    def __len__(self) -> int:
        """Counters held (expired ones not yet dropped included)."""
        return len(self._counts)
