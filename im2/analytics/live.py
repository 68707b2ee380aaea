"""Live dashboards: one watcher per (campaign, filters, language) feeds every open dashboard.

Events come from every domain, so instead of asking each writer to publish, the watcher looks
at the event log: once a second it asks whether the campaign has an event newer than the last
one it saw (one indexed query for the newest id), and only then recomputes the overview and
publishes it on the hub, which fans it out to the dashboards' SSE streams. So recomputation
happens at most once a second per campaign and filter set, however many people watch and
however fast events arrive, and not at all while nothing happens. The watcher stops when the
last subscriber has gone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from im2.db import Database
from im2.events.service import list_events
from im2.i18n import use_locale
from im2.live.hub import Hub

INTERVAL_SECONDS = 1.0
# A watcher lingers this long after its last subscriber left (a page reload reconnects).
GRACE_SECONDS = 5.0


def newest_event_id(db: Database, campaign_id: int, after: int) -> int:
    """The newest event id of the campaign above `after` (or `after` when there is none); a
    burst above 5,000 events is caught up on the next look."""
    with db.session() as session:
        newer = list_events(session, campaign_id=campaign_id, after_id=after, limit=5000)
    return newer[-1].id if newer else after


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
        campaign_id: int,
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
            self._watch(channel, campaign_id, last_id, locale, compute)
        )

    async def _watch(
        self,
        channel: str,
        campaign_id: int,
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
                newest = await asyncio.to_thread(newest_event_id, self.db, campaign_id, last_id)
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
