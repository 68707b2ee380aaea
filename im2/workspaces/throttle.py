"""Failed console sign-ins throttled per client address and per (e-mail, address).

Counting by address instead of locking the account means a stranger guessing a password from
elsewhere slows down only themselves: the real user, from their own network, still signs in.
Unknown e-mails count exactly like known ones, so being throttled reveals nothing about which
accounts exist.

The counters are the `limits` library's sliding windows: in this process by default, in Redis
(shared by every server process) when IM2_REDIS_URL is set (`Counters`, which the participant
rate limits use too).
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage as AsyncRedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter as AsyncLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import ConnectionPool as AsyncPool
from redis.exceptions import RedisError

from im2.workspaces.counters import MemoryCounters

log = logging.getLogger(__name__)

# A Redis call that takes longer than this counts as Redis being away (a participant's request
# waits for it, so it must be short).
REDIS_TIMEOUT_SECONDS = 0.5
# While Redis is away, it is tried again after this long; this process's counters stand in.
RETRY_SECONDS = 5.0


class Counters:
    """Sliding-window counters (`limits`), in this process or shared in Redis.

    Sliding-window counters (two counters per key, the previous window weighted) rather than
    a moving window: the memory storage keeps a moving window's key after its entries expire
    and its expiry thread walks every key ever seen every 10 ms, so with a new device per vote
    the walk grew without bound and took the server's CPU. Counters that expire are dropped.

    With `redis_url`, every server process counts in the same place, so a limit holds however
    the load balancer spreads a client's requests. Should Redis be unreachable, this process's
    own counters stand in (logged, retried every `RETRY_SECONDS`): an outage neither stops
    participants nor lifts every limit.
    """

    def __init__(self, redis_url: str | None = None) -> None:
        self._local = SlidingWindowCounterRateLimiter(MemoryCounters())
        self._shared: SlidingWindowCounterRateLimiter | None = None
        self._shared_async: AsyncLimiter | None = None
        self._async_pool: AsyncPool | None = None
        self._down_until = 0.0
        if redis_url:
            options: dict[str, float | str | bool] = {
                "key_prefix": "im2:limits",
                "wrap_exceptions": True,
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
            }
            self._shared = SlidingWindowCounterRateLimiter(
                storage_from_string(redis_url, **options)
            )
            # The same counters (same keys, same scripts) for callers on the event loop, on a
            # pool of our own so that `aclose` can close it.
            self._async_pool = AsyncPool.from_url(
                redis_url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
            pool: dict[str, Any] = {"connection_pool": self._async_pool}
            self._shared_async = AsyncLimiter(
                AsyncRedisStorage(
                    f"async+{redis_url}",
                    wrap_exceptions=True,
                    implementation="redispy",
                    key_prefix="im2:limits",
                    **pool,
                )
            )

    def _limiter(self) -> SlidingWindowCounterRateLimiter:
        if self._shared is not None and time.monotonic() >= self._down_until:
            return self._shared
        return self._local

    def _failed(self, exc: Exception) -> SlidingWindowCounterRateLimiter:
        log.warning("rate limits: Redis unreachable (%s); counting in this process", exc)
        self._down_until = time.monotonic() + RETRY_SECONDS
        return self._local

    def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Count one action; False when it goes over the limit."""
        limiter = self._limiter()
        try:
            return limiter.hit(item, *identifiers)
        except (StorageError, RedisError, OSError) as exc:
            return self._failed(exc).hit(item, *identifiers)

    async def ahit(self, item: RateLimitItem, *identifiers: str) -> bool:
        """`hit` for a caller on the event loop: the Redis round trip (~0.2 ms on loopback)
        does not hold up the other requests."""
        shared = self._shared_async
        if shared is None or time.monotonic() < self._down_until:
            return self._local.hit(item, *identifiers)
        try:
            return await shared.hit(item, *identifiers)
        except (StorageError, RedisError, OSError) as exc:
            return self._failed(exc).hit(item, *identifiers)

    async def aclose(self) -> None:
        """Close the event loop's Redis connections (at the app's shutdown, on its loop)."""
        if self._async_pool is not None:
            await self._async_pool.disconnect()

    def test(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Whether one more action would be within the limit (counts nothing)."""
        limiter = self._limiter()
        try:
            return limiter.test(item, *identifiers)
        except (StorageError, RedisError, OSError) as exc:
            return self._failed(exc).test(item, *identifiers)

    def clear(self, item: RateLimitItem, *identifiers: str) -> None:
        limiter = self._limiter()
        try:
            limiter.clear(item, *identifiers)
        except (StorageError, RedisError, OSError) as exc:
            self._failed(exc).clear(item, *identifiers)


class LoginThrottle:
    def __init__(self, *, per_ip: str, per_account_ip: str, redis_url: str | None = None) -> None:
        self._limiter = Counters(redis_url)
        self.per_ip: RateLimitItem = parse(per_ip)
        self.per_account_ip: RateLimitItem = parse(per_account_ip)

    @staticmethod
    def _account(email: str) -> str:
        # The counters hold a digest, not the e-mail someone typed.
        return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]

    def blocked(self, *, ip: str, email: str) -> bool:
        """Whether this address (for this e-mail) used up its failures for now."""
        return not (
            self._limiter.test(self.per_ip, "login-ip", ip)
            and self._limiter.test(self.per_account_ip, "login-account", ip, self._account(email))
        )

    def failed(self, *, ip: str, email: str) -> None:
        self._limiter.hit(self.per_ip, "login-ip", ip)
        self._limiter.hit(self.per_account_ip, "login-account", ip, self._account(email))

    def succeeded(self, *, ip: str, email: str) -> None:
        """A right password from this address forgets its failures for that e-mail."""
        self._limiter.clear(self.per_account_ip, "login-account", ip, self._account(email))

    @property
    def window_minutes(self) -> int:
        """The longer of the two windows, to tell a throttled person how long to wait."""
        seconds = max(self.per_ip.get_expiry(), self.per_account_ip.get_expiry())
        return max(1, -(-seconds // 60))
