"""Scheduled campaigns go live and end by themselves, driven by a controllable clock."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from im2.campaigns.jobs import advance_campaigns_job
from im2.clock import ManualClock
from im2.db import Database
from im2.events.service import list_events
from im2.workspaces.schemas import Role
from tests.conftest import Brand, campaign_payload


def _status(client: TestClient, brand: Brand, cid: int) -> str:
    return client.get(f"/api/v1/campaigns/{cid}", headers=brand.auth(Role.OWNER)).json()["status"]


def test_scheduled_campaign_goes_live_and_ends_on_time(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    auth = brand.auth(Role.OWNER)
    # Starts 2026-03-10 10:00 Shanghai = 02:00 UTC; the clock starts 2026-03-02 02:00 UTC.
    cid = client.post("/api/v1/campaigns", json=campaign_payload(), headers=auth).json()["id"]
    client.post(f"/api/v1/campaigns/{cid}/transitions", json={"status": "scheduled"}, headers=auth)

    clock.advance(timedelta(days=8) - timedelta(minutes=1))
    assert advance_campaigns_job(db, clock) == []
    assert _status(client, brand, cid) == "scheduled"

    clock.advance(timedelta(minutes=1))
    changes = advance_campaigns_job(db, clock)
    assert [(c.old, c.new) for c in changes] == [("scheduled", "live")]
    assert _status(client, brand, cid) == "live"
    assert advance_campaigns_job(db, clock) == []  # idempotent

    # Ends 2026-03-20 22:00 Shanghai = 14:00 UTC.
    clock.advance(timedelta(days=10, hours=12))
    assert [(c.old, c.new) for c in advance_campaigns_job(db, clock)] == [("live", "ended")]
    assert _status(client, brand, cid) == "ended"

    with db.session() as session:
        events = list_events(session, campaign_id=cid, kinds=["campaign.status_changed"])
    assert [(e.properties["to"], e.properties["automatic"]) for e in events] == [
        ("scheduled", False),
        ("live", True),
        ("ended", True),
    ]
    assert events[1].occurred_at == clock.now() - timedelta(days=10, hours=12)


def test_paused_campaign_still_ends_and_drafts_never_start(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    auth = brand.auth(Role.OWNER)
    paused = client.post("/api/v1/campaigns", json=campaign_payload(slug="p"), headers=auth).json()[
        "id"
    ]
    draft = client.post("/api/v1/campaigns", json=campaign_payload(slug="d"), headers=auth).json()[
        "id"
    ]
    for status in ("scheduled", "live", "paused"):
        client.post(
            f"/api/v1/campaigns/{paused}/transitions", json={"status": status}, headers=auth
        )
    clock.advance(timedelta(days=30))
    advance_campaigns_job(db, clock)
    assert _status(client, brand, paused) == "ended"
    assert _status(client, brand, draft) == "draft"


def test_a_campaign_scheduled_late_starts_and_ends_in_one_run(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    auth = brand.auth(Role.OWNER)
    cid = client.post("/api/v1/campaigns", json=campaign_payload(), headers=auth).json()["id"]
    client.post(f"/api/v1/campaigns/{cid}/transitions", json={"status": "scheduled"}, headers=auth)
    clock.advance(timedelta(days=40))  # the server was down for the whole campaign
    changes = advance_campaigns_job(db, clock)
    assert [c.new for c in changes] == ["live", "ended"]
