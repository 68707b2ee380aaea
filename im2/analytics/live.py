"""Live dashboards: one watcher per (page, filters, language) feeds every open dashboard.

Events come from every domain, and there is one live path for them: the event writer
(`im2.events.service`) announces a campaign's new events after their commit, the
`EventBell` of each server process hands that on to the hub as a ring on the campaign's events
channel (`events:<campaign id>`; over Redis with several processes), and the watchers of the
campaign's dashboards wake up on it, recompute the page's numbers and publish them on the hub,
which fans them out to the pages' SSE streams. Nothing asks the database whether something
happened. A burst of events is one ring per campaign per `RING_SECONDS` on each process, and a
watcher recomputes at most once per `MIN_INTERVAL_SECONDS`, however many people watch and
however fast events arrive, and not at all while nothing happens ("newest snapshot wins": a
ring during a recomputation makes one more). The watcher stops when the last subscriber has
gone.

The campaign dashboard, the live minute view, the comparison and the experiments page all
stream this way (`live_response`); each page says what to recompute.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.requests import Request

from im2.db import Database
from im2.events import service as events
from im2.i18n import get_locale, use_locale
from im2.live.hub import Hub
from im2.live.sse import stream

# A watcher recomputes its page at most this often.
MIN_INTERVAL_SECONDS = 1.0
# A process rings a campaign's events channel at most this often (the ring follows the first
# commit of a burst by this much, so one ring covers the whole burst).
RING_SECONDS = 0.2
# A watcher lingers this long after its last subscriber left (a page reload reconnects).
GRACE_SECONDS = 5.0


def events_channel(campaign_id: int) -> str:
    return f"events:{campaign_id}"


def newest_event_id(db: Database, campaign_ids: Sequence[int], after: int) -> int:
    """The newest event id of the campaigns above `after` (or `after` when there is none)."""
    with db.session() as session:
        return events.newest_event_id(session, campaign_ids=campaign_ids, after=after)


class EventBell:
    """Hands the event writer's after-commit announcements to the hub (`ring`, from any
    thread): one message on the campaign's events channel per `RING_SECONDS` at most."""

    def __init__(self, hub: Hub, loop: asyncio.AbstractEventLoop) -> None:
        self.hub = hub
        self.loop = loop
        self._pending: set[int] = set()
        self._lock = threading.Lock()

    def listen(self, db: Database) -> Callable[[], None]:
        """Ring for the new events of `db`; returns what stops it."""
        return db.signals.listen(events.NEW_EVENTS, self.ring)

    def ring(self, campaign_id: int) -> None:
        with self._lock:
            if campaign_id in self._pending:
                return
            self._pending.add(campaign_id)
        try:
            self.loop.call_soon_threadsafe(
                self.loop.call_later, RING_SECONDS, self._send, campaign_id
            )
        except RuntimeError:  # the loop has closed: the server is gone
            with self._lock:
                self._pending.discard(campaign_id)

    def _send(self, campaign_id: int) -> None:
        with self._lock:
            self._pending.discard(campaign_id)
        self.hub.publish(events_channel(campaign_id), campaign_id)


class DashboardFeeds:
    """The running watchers of one app (kept on `app.state`)."""

    def __init__(self, hub: Hub, db: Database) -> None:
        self.hub = hub
        self.db = db
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def ensure(
        self,
        channel: str,
        *,
        campaign_ids: Sequence[int],
        last_id: int,
        locale: str,
        compute: Callable[[], dict[str, Any]],
    ) -> None:
        """Start the channel's watcher unless it runs already. `last_id` is the newest event
        the caller's first snapshot included."""
        task = self._tasks.get(channel)
        if task is not None and not task.done():
            return
        self._tasks[channel] = asyncio.get_running_loop().create_task(
            self._watch(channel, tuple(campaign_ids), last_id, locale, compute)
        )

    async def _follow(self, campaign_id: int, woke: asyncio.Event) -> None:
        async for message in self.hub.subscribe(events_channel(campaign_id), first=None):
            if message is not None:  # None is the subscription's heartbeat
                woke.set()

    async def _watch(
        self,
        channel: str,
        campaign_ids: tuple[int, ...],
        last_id: int,
        locale: str,
        compute: Callable[[], dict[str, Any]],
    ) -> None:
        loop = asyncio.get_running_loop()
        woke = asyncio.Event()
        rings = [loop.create_task(self._follow(c, woke)) for c in campaign_ids]
        idle_since: float | None = None

        def recompute() -> dict[str, Any]:
            with use_locale(locale):
                return compute()

        try:
            await asyncio.sleep(0)  # the subscriptions exist from here on
            # Events committed between the first snapshot and the subscriptions rang nobody.
            if await asyncio.to_thread(newest_event_id, self.db, campaign_ids, last_id) != last_id:
                woke.set()
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(MIN_INTERVAL_SECONDS):
                        await woke.wait()
                if self.hub.subscriber_count(channel) == 0:
                    idle_since = idle_since if idle_since is not None else loop.time()
                    if loop.time() - idle_since >= GRACE_SECONDS:
                        return
                    continue
                idle_since = None
                if not woke.is_set():
                    continue
                woke.clear()
                self.hub.publish(channel, await asyncio.to_thread(recompute))
                await asyncio.sleep(MIN_INTERVAL_SECONDS)
        finally:
            for ring in rings:
                ring.cancel()
            if self._tasks.get(channel) is asyncio.current_task():
                del self._tasks[channel]

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def live_response(
    request: Request,
    *,
    hub: Hub,
    db: Database,
    channel: str,
    campaign_ids: Sequence[int],
    compute: Callable[[], dict[str, Any]],
    event: str,
) -> EventSourceResponse:
    """A server-sent event stream of `compute()`: its current answer, then a new one whenever
    one of the campaigns has new events. `channel` must name everything the answer depends on
    (page, filters, language): every viewer of a channel gets the same snapshots."""
    state = request.app.state
    feeds: DashboardFeeds | None = getattr(state, "analytics_feeds", None)
    if feeds is None:
        feeds = state.analytics_feeds = DashboardFeeds(hub, db)
    locale = get_locale()
    # The newest event before the first snapshot: anything later is picked up by the watcher.
    last_id = await asyncio.to_thread(newest_event_id, db, tuple(campaign_ids), 0)
    first = await asyncio.to_thread(compute)
    feeds.ensure(
        f"{channel}:{locale}",
        campaign_ids=campaign_ids,
        last_id=last_id,
        locale=locale,
        compute=compute,
    )
    message = json.dumps(first, ensure_ascii=False, default=str)
    return EventSourceResponse(stream(request, hub, f"{channel}:{locale}", message, event=event))
