"""The hub across server processes: the same interface as `Hub`, carried by Redis pub/sub.

Every process publishes its snapshots to Redis and delivers to its own subscribers only what
comes back from Redis, its own messages included. Redis hands every subscriber of a channel
the messages in one order, so every process (and every browser) ends on the same snapshot:
"the newest wins" holds across processes as it does inside one.

Each process listens to every channel (one pattern subscription), so `latest` is as fresh as
in the in-process hub and a page's first snapshot can come from it. Snapshots are small and
coalesced, so the traffic is a few messages per second per live activity.

Why Redis rather than PostgreSQL LISTEN/NOTIFY (docs/deploy.md, "Live updates across
processes", has the figures): the delays are alike (sub-millisecond medians; where the tails
differ, NOTIFY's is longer), and Redis has no 8,000-byte payload limit (a dashboard snapshot
can be larger) and no database-wide lock that NOTIFY takes at commit, which serializes the
committing transactions of every process on the one resource they share.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from im2.live.hub import Hub

log = logging.getLogger(__name__)

PREFIX = "im2:live:"
# After a snapshot that a transaction computed, the channel is read afresh this much later,
# once concurrent commits of other processes have landed (see `put`).
SETTLE_SECONDS = 0.5
# How long a Redis call may take before the hub counts Redis as unreachable.
TIMEOUT_SECONDS = 2.0


class RedisHub(Hub):
    def __init__(self, url: str, *, prefix: str = PREFIX) -> None:
        super().__init__()
        self._url = url
        self._prefix = prefix
        self._client: aioredis.Redis | None = None
        self._outbox: asyncio.Queue[tuple[str, str]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()
        self._settle_loads: dict[str, Callable[[], Any]] = {}

    async def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.attach(loop)
        self._client = aioredis.Redis.from_url(
            self._url,
            decode_responses=True,
            socket_connect_timeout=TIMEOUT_SECONDS,
            health_check_interval=30,
        )
        self._outbox = asyncio.Queue()
        self._tasks = [
            loop.create_task(self._listen(), name="im2-live-redis-listen"),
            loop.create_task(self._forward(), name="im2-live-redis-publish"),
        ]
        # Start-up waits (briefly) for the subscription, so that a process is ready only when
        # it receives what the others publish; without Redis it starts anyway, not ready.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(TIMEOUT_SECONDS):
                await self._subscribed.wait()

    async def ping(self) -> bool:
        if self._client is None or not self._subscribed.is_set():
            return False
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS):
                return bool(await self._client.ping())
        except (RedisError, OSError, TimeoutError):
            return False

    def _send(self, channel: str, message: str) -> None:
        loop, outbox = self._loop, self._outbox
        if loop is None or loop.is_closed() or outbox is None:
            # Not serving (a command, or before start-up): nobody elsewhere is listening.
            self._deliver(channel, message)
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        item = (channel, message)
        if running is loop:
            outbox.put_nowait(item)
        else:
            loop.call_soon_threadsafe(outbox.put_nowait, item)

    async def _forward(self) -> None:
        """Publish the outbox in order, everything queued meanwhile in one round trip."""
        assert self._client is not None
        assert self._outbox is not None
        outbox = self._outbox
        while True:
            batch = [await outbox.get()]
            while not outbox.empty():
                batch.append(outbox.get_nowait())
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    for channel, message in batch:
                        pipe.publish(self._prefix + channel, message)
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                # Other processes miss these; this one's subscribers still get them.
                log.warning("live: publishing to Redis failed (%s); delivering locally", exc)
                for channel, message in batch:
                    self._deliver(channel, message)
            finally:
                for _ in batch:
                    outbox.task_done()

    async def _listen(self) -> None:
        """Deliver what Redis hands out; reconnect (with a growing pause) when it goes away."""
        assert self._client is not None
        pause = 0.1
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(self._prefix + "*")
                # Snapshots kept while disconnected may be stale: pages reload from the
                # database until new ones arrive.
                with self._lock:
                    self._latest.clear()
                self._subscribed.set()
                pause = 0.1
                start = len(self._prefix)
                async for item in pubsub.listen():
                    if item["type"] == "pmessage":
                        self._deliver(item["channel"][start:], item["data"])
            except (RedisError, OSError) as exc:
                if self._subscribed.is_set():
                    log.warning("live: lost the Redis subscription (%s); reconnecting", exc)
                self._subscribed.clear()
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()

    def put(self, channel: str, data: Any, *, reload: Callable[[], Any] | None = None) -> None:
        """As `Hub.put`; with `reload`, the channel is also read afresh `SETTLE_SECONDS`
        later (once per channel however many puts come meanwhile). Two processes' writers
        commit concurrently, and the snapshot each computed inside its transaction misses
        the other's writes: whichever arrives last would otherwise stay on screen."""
        super().put(channel, data)
        loop = self._loop
        if reload is None or loop is None or loop.is_closed():
            return
        with self._lock:
            pending = channel in self._settle_loads
            self._settle_loads[channel] = reload
        if not pending:
            loop.call_soon_threadsafe(loop.call_later, SETTLE_SECONDS, self._settle, channel)

    def _settle(self, channel: str) -> None:
        with self._lock:
            load = self._settle_loads.pop(channel)
        self.refresh(channel, load)

    async def close(self) -> None:
        if self._outbox is not None and self._subscribed.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TIMEOUT_SECONDS):
                    await self._outbox.join()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def make_hub(redis_url: str | None) -> Hub:
    """The in-process hub (the embedded default), or the Redis one when a URL is set."""
    return RedisHub(redis_url) if redis_url else Hub()
