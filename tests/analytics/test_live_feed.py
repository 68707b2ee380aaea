"""The live dashboard feed: new events reach subscribers, recomputation is throttled to once a
second per channel however fast events arrive, and nothing is recomputed while nothing happens.
The feed follows the event writer's after-commit rings: it never asks the database whether
something happened (one check when it starts, for events between the first snapshot and its
subscription)."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from im2.analytics import live
from im2.analytics.live import DashboardFeeds, EventBell, newest_event_id
from im2.campaigns.schemas import CampaignCreate
from im2.campaigns.service import do_create_campaign
from im2.db import Database
from im2.events.schemas import EventKind as K
from im2.events.service import count_events
from im2.live.hub import Hub
from im2.workspaces.service import system_actor
from tests.analytics.conftest import add_events
from tests.analytics.test_metrics import START
from tests.conftest import Brand, campaign_payload


def test_bursts_are_coalesced_and_quiet_costs_nothing(
    db: Database, brand: Brand, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[int] = []

    def counted_newest(db: Database, campaign_ids: Any, after: int) -> int:
        checks.append(after)
        return newest_event_id(db, campaign_ids, after)

    monkeypatch.setattr(live, "newest_event_id", counted_newest)
    with db.transaction() as session:
        actor = system_actor(session, workspace_slug="acme")
        campaign = do_create_campaign(
            session, actor=actor, data=CampaignCreate.model_validate(campaign_payload()), now=START
        )
    computed: list[float] = []

    def compute() -> dict[str, Any]:
        computed.append(time.monotonic())
        with db.session() as session:
            return {"events": count_events(session, campaign_id=campaign.id)}

    def burst(stop: threading.Event) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            add_events(
                db,
                [(K.VOTE_CAST, f"p{n}", START + timedelta(seconds=n))],
                workspace_id=brand.workspace_id,
                campaign_id=campaign.id,
            )
            time.sleep(0.02)

    async def scenario() -> tuple[list[dict[str, Any]], int, int]:
        hub = Hub()
        hub.attach(asyncio.get_running_loop())
        stop_ringing = EventBell(hub, asyncio.get_running_loop()).listen(db)
        feeds = DashboardFeeds(hub, db)
        channel = f"analytics:{campaign.id}:test"
        last = newest_event_id(db, [campaign.id], 0)
        received: list[dict[str, Any]] = []

        async def listen() -> None:
            async for message in hub.subscribe(channel, first=json.dumps({"events": 0})):
                if message is not None:
                    received.append(json.loads(message))

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0)
        feeds.ensure(
            channel, campaign_ids=[campaign.id], last_id=last, locale="zh_CN", compute=compute
        )
        await asyncio.sleep(2.5)  # quiet: no events, no recomputation
        quiet = len(computed)
        stop = threading.Event()
        writer = threading.Thread(target=burst, args=(stop,))
        writer.start()
        await asyncio.sleep(3.2)
        stop.set()
        await asyncio.to_thread(writer.join)
        await asyncio.sleep(2.2)  # the last events are picked up too
        listener.cancel()
        await feeds.close()
        stop_ringing()
        return received, quiet, len(computed)

    # A loop of its own in a fresh thread: the session's Playwright browser may own this
    # thread's event loop when browser tests ran earlier on the same pytest worker.
    with ThreadPoolExecutor(max_workers=1) as runner:
        received, quiet, total = runner.submit(asyncio.run, scenario()).result()
    written = newest_event_count(db, campaign.id)
    assert quiet == 0
    assert written > 20  # a real burst: dozens of events in ~3 s
    # At most one recomputation per second (about 3 s of burst plus the tail), never one per event.
    assert 2 <= total <= 7, total
    gaps = [b - a for a, b in itertools.pairwise(computed)]
    assert all(g >= live.MIN_INTERVAL_SECONDS * 0.9 for g in gaps), gaps
    # Subscribers end with the final state.
    assert received[-1] == {"events": written}
    # And the database was asked once whether something happened, when the feed started.
    assert len(checks) == 1, checks


def newest_event_count(db: Database, campaign_id: int) -> int:
    with db.session() as session:
        return count_events(session, campaign_id=campaign_id)
