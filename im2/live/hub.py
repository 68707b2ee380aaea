"""The hub: publish after commit (from any thread), subscribers read on the event loop.

Messages are snapshots of state (a poll's results, a counter), so a slow subscriber only needs
the newest one: each subscriber holds at most one pending message and a newer one replaces it.
This in-process hub is the embedded default; with several server processes
`im2.live.redis_hub.RedisHub` carries the same interface over Redis pub/sub (`make_hub`).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Any


class Subscription:
    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._pending: str | None = None
        self.closed = False

    def close(self) -> None:
        """End the subscription (the server is draining): `next` returns at once."""
        self.closed = True
        self._event.set()

    def offer(self, message: str) -> None:
        self._pending = message  # newer snapshots replace older ones
        self._event.set()

    async def next(self, timeout: float) -> str | None:
        if not self._event.is_set():
            try:
                # asyncio.timeout, not wait_for: no extra task per subscriber and message.
                async with asyncio.timeout(timeout):
                    await self._event.wait()
            except TimeoutError:
                return None
        self._event.clear()
        message, self._pending = self._pending, None
        return message


class Hub:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self._latest: dict[str, str] = {}
        self._lock = threading.Lock()
        self._loaders: dict[str, Callable[[], Any]] = {}
        self._refreshing: set[str] = set()
        self._dirty: set[str] = set()
        self._closing = False

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._closing = False  # an app served again after a shutdown (tests) streams again

    async def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """At the app's start-up, on its event loop."""
        self.attach(loop)

    async def ping(self) -> bool:
        """Whether the hub can reach every subscriber it should (readiness)."""
        return True

    def close_streams(self) -> None:
        """End every subscription, and any made from now on, so that their streams close
        (a draining server: the clients reconnect to another process). On the event loop."""
        self._closing = True
        for subscriptions in self._subscribers.values():
            for subscription in subscriptions:
                subscription.close()

    async def close(self) -> None:
        """At the app's shutdown, after the last write: deliver what is still queued."""

    def publish(self, channel: str, data: Any) -> None:
        """Thread-safe; call it after the transaction that changed `data` has committed."""
        self._send(channel, json.dumps(data, ensure_ascii=False, default=str))

    def _send(self, channel: str, message: str) -> None:
        """Hand one serialized snapshot to every subscriber (here: of this process)."""
        self._deliver(channel, message)

    def _deliver(self, channel: str, message: str) -> None:
        with self._lock:
            self._latest[channel] = message
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._fan_out(channel, message)
        else:
            loop.call_soon_threadsafe(self._fan_out, channel, message)

    def _fan_out(self, channel: str, message: str) -> None:
        for subscription in list(self._subscribers.get(channel, ())):
            subscription.offer(message)

    def put(self, channel: str, data: Any, *, reload: Callable[[], Any] | None = None) -> None:
        """Publish a snapshot that a committed transaction computed itself (no reload).

        Thread-safe; calls must come in commit order (one writer does that). While a reload of
        the channel is running, the snapshot becomes its next load instead, so an older reload
        can never be the last word. `reload` (how to read the channel's state afresh) matters
        only across processes, where two writers' snapshots can each miss the other's
        concurrent commit: `RedisHub` then reloads once the writes have settled."""
        with self._lock:
            if channel in self._refreshing:
                self._loaders[channel] = lambda: data
                self._dirty.add(channel)
                return
        self.publish(channel, data)

    def refresh(self, channel: str, load: Callable[[], Any]) -> None:
        """Reload a channel's state with `load` (blocking, run in a worker thread) and publish it.

        Thread-safe and coalescing: however many writes ask during a reload, one more reload
        follows it, so the last committed state is always what subscribers end up with, and a
        burst of writes costs a handful of reloads rather than one each.
        """
        with self._lock:
            self._loaders[channel] = load
            if channel in self._refreshing:
                self._dirty.add(channel)
                return
            self._refreshing.add(channel)
        loop = self._loop
        if loop is None or loop.is_closed():
            with self._lock:
                self._refreshing.discard(channel)
            return
        loop.call_soon_threadsafe(lambda: loop.create_task(self._reload(channel)))

    async def _reload(self, channel: str) -> None:
        try:
            while True:
                with self._lock:
                    self._dirty.discard(channel)
                    load = self._loaders[channel]
                data = await asyncio.to_thread(load)
                self.publish(channel, data)
                with self._lock:
                    if channel not in self._dirty:
                        self._refreshing.discard(channel)
                        return
        except Exception:
            with self._lock:
                self._refreshing.discard(channel)
            raise

    def latest(self, channel: str) -> str | None:
        with self._lock:
            return self._latest.get(channel)

    def subscriber_count(self, channel: str) -> int:
        return len(self._subscribers.get(channel, ()))

    async def subscribe(
        self, channel: str, *, first: str | None, heartbeat: float = 15.0
    ) -> AsyncIterator[str | None]:
        """Yields `first` (the current state), then every newer snapshot; None is a heartbeat."""
        if self._closing:
            return
        subscription = Subscription()
        self._subscribers[channel].add(subscription)
        try:
            if first is not None:
                yield first
            while True:
                message = await subscription.next(heartbeat)
                if subscription.closed:
                    return
                yield message
        finally:
            self._subscribers[channel].discard(subscription)
            if not self._subscribers[channel]:
                self._subscribers.pop(channel, None)
