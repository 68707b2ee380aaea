"""Jobs isolate items (issue 16): one campaign, team, inbox item or event that cannot be handled
never stops the others, in any workspace. Each test puts a bad item first, next to a good one
in another workspace: the bad one is legacy data, or a row the database itself refuses to
change (a trigger, as a constraint added after the row was written would)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update

from im2.activities.formats.groupbuy.jobs import expire_groupbuy_teams_job
from im2.campaigns.jobs import advance_campaigns_job
from im2.clock import ManualClock
from im2.db import Database
from im2.events.service import list_events
from im2.listening.jobs import escalate_inbox_job
from im2.listening.models import ListeningSettings
from im2.workspaces.schemas import Role
from tests.activities.test_groupbuy import add_offer, api
from tests.conftest import Brand, campaign_payload, go_live, make_brand

REFUSED = "refused: this row predates a rule"


@contextmanager
def refusing(db: Database, *, table: str, op: str, when: str) -> Iterator[None]:
    """The database refuses `op` (UPDATE or INSERT) on the rows of `table` matching `when`
    (SQL on NEW/OLD), until the block ends."""
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(
                text(
                    "CREATE OR REPLACE FUNCTION im2_test_refuse() RETURNS trigger AS $$ "
                    f"BEGIN RAISE EXCEPTION '{REFUSED}'; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    f"CREATE TRIGGER im2_test_refuse BEFORE {op} ON {table} FOR EACH ROW "
                    f"WHEN ({when}) EXECUTE FUNCTION im2_test_refuse()"
                )
            )
        else:
            conn.execute(
                text(
                    f"CREATE TRIGGER im2_test_refuse BEFORE {op} ON {table} FOR EACH ROW "
                    f"WHEN {when} BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"
                )
            )
    try:
        yield
    finally:
        with db.engine.begin() as conn:
            if db.dialect == "postgresql":
                conn.execute(text(f"DROP TRIGGER IF EXISTS im2_test_refuse ON {table}"))
                conn.execute(text("DROP FUNCTION IF EXISTS im2_test_refuse()"))
            else:
                conn.execute(text("DROP TRIGGER IF EXISTS im2_test_refuse"))


@pytest.fixture
def other(db: Database, clock: ManualClock) -> Brand:
    return make_brand(db, slug="globex", now=clock.now())


def _status(client: TestClient, brand: Brand, campaign_id: int) -> str:
    found = client.get(f"/api/v1/campaigns/{campaign_id}", headers=brand.auth(Role.OWNER))
    return str(found.json()["status"])


def _scheduled(client: TestClient, brand: Brand) -> int:
    auth = brand.auth(Role.OWNER)
    created = client.post(
        "/api/v1/campaigns", json=campaign_payload(slug=f"{brand.slug}-spring"), headers=auth
    )
    assert created.status_code == 201, created.text
    campaign_id = int(created.json()["id"])
    client.post(
        f"/api/v1/campaigns/{campaign_id}/transitions", json={"status": "scheduled"}, headers=auth
    ).raise_for_status()
    return campaign_id


def test_a_campaign_that_cannot_start_does_not_keep_another_workspaces_from_starting(
    client: TestClient, brand: Brand, other: Brand, db: Database, clock: ManualClock
) -> None:
    bad = _scheduled(client, other)
    good = _scheduled(client, brand)
    assert bad < good  # the scheduler meets the bad one first
    clock.advance(timedelta(days=8))  # both start 2026-03-10 10:00 Shanghai

    with refusing(db, table="campaigns", op="UPDATE", when=f"OLD.id = {bad}"):
        changes = advance_campaigns_job(db, clock)

    assert [(c.campaign_id, c.new) for c in changes] == [(good, "live")]
    assert _status(client, brand, good) == "live"
    assert _status(client, other, bad) == "scheduled"  # untouched, tried again next tick
    assert [(c.campaign_id, c.new) for c in advance_campaigns_job(db, clock)] == [(bad, "live")]


def test_a_team_that_cannot_close_does_not_keep_the_others_open(
    client: TestClient, brand: Brand, other: Brand, db: Database, clock: ManualClock
) -> None:
    offers = []
    for owner in (other, brand):
        campaign = go_live(client, owner, slug=f"{owner.slug}-tuan")
        offer = add_offer(client, owner, campaign["id"], hours=2)
        opened = TestClient(client.app).post(
            f"{api(campaign['slug'], offer)}/teams", json={"consent": True}
        )
        assert opened.status_code == 201, opened.text
        offers.append(offer)
    clock.advance(timedelta(hours=2, minutes=1))
    bad_offer, good_offer = offers

    with refusing(db, table="groupbuy_teams", op="UPDATE", when=f"OLD.activity_id = {bad_offer}"):
        assert expire_groupbuy_teams_job(db, clock) == 1

    with db.session() as session:
        failed = list_events(session, kinds=["groupbuy.failed"])
    assert [e.activity_id for e in failed] == [good_offer]  # its leader is told
    assert expire_groupbuy_teams_job(db, clock) == 1  # the other team, once the row can change
    with db.session() as session:
        failed = list_events(session, kinds=["groupbuy.failed"])
    assert sorted(e.activity_id for e in failed) == sorted(offers)


def _complaint(client: TestClient, brand: Brand, clock: ManualClock) -> int:
    """A negative mention, which opens an inbox item on the first rung of the ladder."""
    owner = brand.auth(Role.OWNER)
    client.put(
        "/api/v1/listening/settings",
        json={
            "escalation_ladder": [
                {"name": "公开回复", "minutes": 30},
                {"name": "私信", "minutes": 120},
            ]
        },
        headers=owner,
    ).raise_for_status()
    mention = {
        "platform": "weibo",
        "post_id": "neg",
        "text": "冰箱用了三天就坏了，太差了",
        "posted_at": clock.now().isoformat(),
    }
    client.post("/api/v1/mentions", json={"mentions": [mention]}, headers=owner).raise_for_status()
    [item] = client.get("/api/v1/inbox", headers=owner).json()["items"]
    return int(item["id"])


def test_one_workspaces_broken_ladder_does_not_stop_escalation_elsewhere(
    client: TestClient, brand: Brand, other: Brand, db: Database, clock: ManualClock
) -> None:
    stuck = _complaint(client, other, clock)
    moving = _complaint(client, brand, clock)
    assert stuck < moving
    with db.transaction() as session:  # a ladder saved in a shape this version no longer reads
        session.execute(
            update(ListeningSettings)
            .where(ListeningSettings.workspace_id == other.workspace_id)
            .values(escalation_ladder=[{"step": "公开回复", "after": "30m"}])
        )
    clock.advance(timedelta(minutes=30))

    escalated = escalate_inbox_job(db, clock)

    assert moving in escalated
    assert stuck not in escalated
    item = client.get(f"/api/v1/inbox/{moving}", headers=brand.auth(Role.OWNER)).json()
    assert (item["status"], item["escalation_step_name"]) == ("escalated", "私信")
