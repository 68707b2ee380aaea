"""Live dashboards: one watcher per (page, filters, language) feeds every open dashboard.

Events come from every domain, so instead of asking each writer to publish, the watcher looks
at the event log: once a second it asks whether the campaign (for a comparison, any of the
campaigns) has an event newer than the last one it saw (one indexed query for the newest id),
and only then recomputes the page's numbers and publishes them on the hub, which fans them
out to the pages' SSE streams. So recomputation happens at most once a second per campaign and
filter set, however many people watch and however fast events arrive, and not at all while
nothing happens. The watcher stops when the last subscriber has gone.

The campaign dashboard, the live minute view, the comparison and the experiments page all
stream this way (`live_response`); each page says what to recompute.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.requests import Request

from im2.db import Database
from im2.events import service as events
from im2.i18n import get_locale, use_locale
from im2.live.hub import Hub
from im2.live.sse import stream

INTERVAL_SECONDS = 1.0
# A watcher lingers this long after its last subscriber left (a page reload reconnects).
GRACE_SECONDS = 5.0


def newest_event_id(db: Database, campaign_ids: Sequence[int], after: int) -> int:
    """The newest event id of the campaigns above `after` (or `after` when there is none)."""
    with db.session() as session:
        return events.newest_event_id(session, campaign_ids=campaign_ids, after=after)


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

    async def _watch(
        self,
        channel: str,
        campaign_ids: tuple[int, ...],
        last_id: int,
        locale: str,
        compute: Callable[[], dict[str, Any]],
    ) -> None:
        idle = 0.0

        def recompute() -> dict[str, Any]:
            with use_locale(locale):
                return compute()

        try:
            while True:
                await asyncio.sleep(INTERVAL_SECONDS)
                if self.hub.subscriber_count(channel) == 0:
                    idle += INTERVAL_SECONDS
                    if idle >= GRACE_SECONDS:
                        return
                    continue
                idle = 0.0
                newest = await asyncio.to_thread(newest_event_id, self.db, campaign_ids, last_id)
                if newest == last_id:
                    continue
                last_id = newest
                self.hub.publish(channel, await asyncio.to_thread(recompute))
        finally:
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
