"""The warm-up job over every live campaign: one whose rollup cannot be built (a time zone saved
before they were checked) is left out, and the campaigns after it are warmed all the same."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from im2.analytics.jobs import warm_rollups_job
from im2.analytics.lake import move_events_to_lake
from im2.analytics.query import forget_rollups
from im2.analytics.rollup import LAKE_ROLLUPS
from im2.campaigns.models import Campaign
from im2.clock import ManualClock
from im2.config import get_settings
from im2.db import Database
from tests.analytics.test_metrics import make_campaign, story
from tests.conftest import Brand, take_live

ZONE = "Asia/Shanghai"


@pytest.fixture(autouse=True)
def _job_lake(lake_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("IM2_LAKE_PATH", str(lake_path))
    get_settings.cache_clear()
    forget_rollups()
    yield
    forget_rollups()
    get_settings.cache_clear()


def test_a_campaign_whose_rollup_fails_does_not_keep_the_others_cold(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, lake_path: Path
) -> None:
    broken = make_campaign(client, brand, slug="broken-zone")
    fine = make_campaign(client, brand, slug="fine-zone")
    for campaign in (broken, fine):
        take_live(client, brand, campaign)
        story(db, brand, campaign)
    clock.advance(timedelta(days=10))
    mark = move_events_to_lake(db, lake_path=lake_path, now=clock.now()).last_id
    with db.transaction() as session:
        session.execute(
            update(Campaign).where(Campaign.id == broken).values(timezone="Mars/Olympus")
        )

    held = warm_rollups_job(db, clock)

    assert held == [(fine, ZONE)]
    kept = {c: m for (path, c, _tz), m in LAKE_ROLLUPS.held().items() if path == str(lake_path)}
    assert kept == {fine: mark}
