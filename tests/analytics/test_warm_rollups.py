"""The warm-up job: after a move (or a restart) the dashboards' lake rollups are built in the
background, for the campaigns someone watches first and live ones after, and what the
dashboard then shows is what it showed before the move."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from im2.analytics.jobs import warm_rollups_job
from im2.analytics.lake import move_events_to_lake
from im2.analytics.query import forget_rollups
from im2.analytics.rollup import LAKE_ROLLUPS
from im2.clock import ManualClock
from im2.config import get_settings
from im2.db import Database
from im2.events.schemas import EventKind as K
from tests.analytics.conftest import add_events
from tests.analytics.test_metrics import DAY, make_campaign, overview, story, values
from tests.conftest import Brand, take_live

ZONE = "Asia/Shanghai"  # the campaign payload's time zone


@pytest.fixture(autouse=True)
def _job_lake(lake_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The jobs read the process settings: point them at this test's lake, with no rollups
    kept from other tests."""
    monkeypatch.setenv("IM2_LAKE_PATH", str(lake_path))
    get_settings.cache_clear()
    forget_rollups()
    yield
    forget_rollups()
    get_settings.cache_clear()


def _held(lake_path: Path) -> dict[int, int]:
    """The campaigns whose lake rollup is kept, with the lake mark it is at."""
    return {
        c: mark for (path, c, _tz), mark in LAKE_ROLLUPS.held().items() if path == str(lake_path)
    }


def test_after_a_move_the_live_campaign_is_ready_and_shows_the_same_numbers(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, lake_path: Path
) -> None:
    live = make_campaign(client, brand)
    take_live(client, brand, live)
    draft = make_campaign(client, brand, slug="still-a-draft")
    story(db, brand, live)
    story(db, brand, draft)
    clock.advance(10 * DAY)
    before = values(overview(client, brand, live))
    assert warm_rollups_job(db, clock) == []  # nothing in the lake yet

    mark = move_events_to_lake(db, lake_path=lake_path, now=clock.now()).last_id
    held = warm_rollups_job(db, clock)

    assert held == [(live, ZONE)]
    assert _held(lake_path) == {live: mark}  # the draft's is built when someone opens it
    assert values(overview(client, brand, live)) == before
    assert _held(lake_path) == {live: mark}


def test_a_watched_campaign_is_kept_current_and_never_pushed_out_by_a_live_one(
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    lake_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(LAKE_ROLLUPS, "max_cached", 1)
    live = make_campaign(client, brand)
    take_live(client, brand, live)
    watched = make_campaign(client, brand, slug="ended-but-watched")
    story(db, brand, live)
    story(db, brand, watched)
    clock.advance(10 * DAY)
    mark = move_events_to_lake(db, lake_path=lake_path, now=clock.now()).last_id
    first = values(overview(client, brand, watched))  # someone opens its dashboard
    assert _held(lake_path) == {watched: mark}

    assert warm_rollups_job(db, clock) == [(watched, ZONE)]
    assert _held(lake_path) == {watched: mark}

    # A late vote moves to the lake; the job extends the watched rollup to the new mark.
    add_events(
        db, [(K.VOTE_CAST, "p9", clock.now())], workspace_id=brand.workspace_id, campaign_id=watched
    )
    clock.advance(DAY)
    new_mark = move_events_to_lake(db, lake_path=lake_path, now=clock.now()).last_id
    warm_rollups_job(db, clock)

    assert new_mark > mark
    assert _held(lake_path) == {watched: new_mark}  # before anyone asks again
    after = values(overview(client, brand, watched))
    assert after["participants"] == first["participants"] + 1
