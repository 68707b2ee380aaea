"""The ladder's metrics in the registry: people per stage of one campaign, for its window, by
the workspace's rules; ground truth from simulated people (V looks, P looks and votes, S looks,
votes and shares, F comes through S's link and votes), half of them in the lake."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from im2.analytics.lake import move_events_to_lake
from im2.clock import ManualClock
from im2.db import Database
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.people.test_ladder import _campaign, _link, _phone, _through, _vote


def _ladder(client: TestClient, brand: Brand, campaign_id: int, **params: str) -> Any:
    read = client.get(
        f"/api/v1/campaigns/{campaign_id}/metrics",
        params={"metrics": "ladder,advocates", **params},
        headers=brand.auth(Role.ANALYST),
    )
    assert read.status_code == 200, read.text
    return read.json()["metrics"]


def test_people_per_stage_of_a_campaign(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, lake_path: Path
) -> None:
    campaign_id, slug, poll, opts = _campaign(client, brand, "ladder-metric")
    v = _phone(client)
    assert v.get(f"/c/{slug}").status_code == 200
    p = _phone(client)
    assert p.get(f"/c/{slug}").status_code == 200
    _vote(p, slug, poll, opts[0])
    s = _phone(client)
    assert s.get(f"/c/{slug}").status_code == 200
    _vote(s, slug, poll, opts[1])
    code = _link(s, slug)
    clock.advance(timedelta(minutes=1))
    assert move_events_to_lake(db, lake_path=lake_path, now=clock.now()).moved > 0
    clock.advance(timedelta(minutes=5))
    _through(client, code, slug, poll, opts[2])
    since = clock.now()
    clock.advance(timedelta(hours=1))

    metrics = _ladder(client, brand, campaign_id)
    people = {r["stage"]: r["people"] for r in metrics["ladder"]["rows"]}
    assert people == {"bystander": 1, "participant": 2, "spreader": 1, "advocate": 0}
    assert metrics["ladder"]["value"] == 1
    assert metrics["advocates"]["value"] == 0
    names = [r["name"] for r in metrics["ladder"]["rows"]]
    assert names == ["Bystander", "Participant", "Spreader", "Advocate"]

    # The window: only F's arrival and vote are after `since`.
    late = _ladder(client, brand, campaign_id, since=since.isoformat())
    assert {r["stage"]: r["people"] for r in late["ladder"]["rows"]} == {
        "bystander": 0,
        "participant": 1,
        "spreader": 0,
        "advocate": 0,
    }

    # The workspace's rules: a spreader must bring two people now.
    rules = {
        "spreader_min_brought": 2,
        "advocate_min_campaigns": 2,
        "advocate_min_weeks": 3,
        "advocate_min_brought": 2,
    }
    put = client.put("/api/v1/people/ladder/rules", json=rules, headers=brand.auth(Role.OWNER))
    assert put.status_code == 200, put.text
    stricter = _ladder(client, brand, campaign_id)
    assert {r["stage"]: r["people"] for r in stricter["ladder"]["rows"]} == {
        "bystander": 1,
        "participant": 3,
        "spreader": 0,
        "advocate": 0,
    }
