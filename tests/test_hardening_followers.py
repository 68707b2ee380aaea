"""The followers of the event log (referral, point rules, webhook outbox) pass over an event they
cannot handle: it is recorded as a dead letter in its workspace's audit log, their cursor moves
on, and the events behind it, in every workspace, are handled the same run and never again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from im2.activities.formats.referral.jobs import qualify_referrals_job
from im2.activities.formats.referral.models import ReferralClick
from im2.campaigns.models import Campaign
from im2.clock import ManualClock
from im2.db import Database
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.incentives import service as incentives
from im2.incentives.jobs import apply_point_rules_job
from im2.webhooks.jobs import enqueue_webhooks_job
from im2.webhooks.models import WebhookDelivery, WebhookEndpoint
from im2.workspaces.schemas import Role
from tests.conftest import Brand, make_brand
from tests.incentives.conftest import Setup, make_setup
from tests.test_hardening_job_items import refusing

BEYOND_64_BITS = 10**20  # a sharer id from an importer that never checked it


@pytest.fixture
def other(db: Database, clock: ManualClock) -> Brand:
    return make_brand(db, slug="globex", now=clock.now())


def _click(db: Database, clock: ManualClock, setup: Setup, *, device: str, sharer: int) -> int:
    with db.transaction() as session:
        event = record_event(
            session,
            kind=EventKind.SHARE_CLICKED,
            occurred_at=clock.now(),
            workspace_id=setup.workspace_id,
            campaign_id=setup.campaign_id,
            actor_type=ActorType.VISITOR,
            actor_id=None,
            properties={"device": device, "sharer": sharer},
        )
        session.flush()
        return event.id


def _dead_letters(client: TestClient, brand: Brand) -> list[dict[str, Any]]:
    audit = client.get("/api/v1/audit", headers=brand.auth(Role.OWNER))
    assert audit.status_code == 200, audit.text
    return [e for e in audit.json() if e["action"] == "job.dead_letter"]


@pytest.fixture
def world(
    db: Database, clock: ManualClock, brand: Brand, other: Brand
) -> tuple[Setup, Setup, int, int, int]:
    """globex's bad share click first, then acme's good one; both campaigns reward clicks."""
    bad = make_setup(db, clock, other, slug="globex-vote")
    good = make_setup(db, clock, brand, slug="acme-vote")
    sharer = good.join(db, clock, "dev-sharer")
    with db.transaction() as session:
        for setup, cap in ((bad, 5), (good, None)):
            incentives.do_save_rule(
                session,
                actor=setup.actor,
                campaign_id=setup.campaign_id,
                event_kind="share.clicked",
                points=2,
                daily_cap=cap,
                now=clock.now(),
            )
        # A time zone saved before they were checked: globex's daily cap cannot find its day.
        session.execute(
            update(Campaign).where(Campaign.id == bad.campaign_id).values(timezone="Mars/Olympus")
        )
    clock.advance(timedelta(minutes=1))
    bad_event = _click(db, clock, bad, device="dev-a", sharer=BEYOND_64_BITS)
    good_event = _click(db, clock, good, device="dev-b", sharer=sharer)
    clock.advance(timedelta(seconds=30))  # past PostgreSQL's settling time
    return bad, good, sharer, bad_event, good_event


def test_point_rules_dead_letter_one_event_and_award_the_next(
    client: TestClient, db: Database, clock: ManualClock, brand: Brand, other: Brand, world: Any
) -> None:
    _bad, good, sharer, bad_event, _good_event = world

    assert apply_point_rules_job(db, clock) == 1

    with db.session() as session:
        balance = incentives.get_balance(
            session, workspace_id=good.workspace_id, participant_id=sharer, now=clock.now()
        )
    assert balance.points == 2
    [letter] = _dead_letters(client, other)
    assert letter["target_id"] == bad_event
    assert "incentives_point_rules" in letter["summary"]
    assert _dead_letters(client, brand) == []
    assert apply_point_rules_job(db, clock) == 0  # moved on: never retried at every tick
    assert len(_dead_letters(client, other)) == 1


def test_referral_dead_letters_one_event_and_records_the_next_click(
    client: TestClient, db: Database, clock: ManualClock, other: Brand, world: Any
) -> None:
    _bad, good, sharer, bad_event, _good_event = world

    qualify_referrals_job(db, clock)

    with db.session() as session:
        clicks = session.execute(select(ReferralClick.campaign_id, ReferralClick.sharer_id)).all()
    assert [tuple(c) for c in clicks] == [(good.campaign_id, sharer)]
    [letter] = _dead_letters(client, other)
    assert letter["target_id"] == bad_event
    assert "referral_qualify" in letter["summary"]
    assert qualify_referrals_job(db, clock) == 0
    assert len(_dead_letters(client, other)) == 1


def test_the_webhook_outbox_dead_letters_one_event_and_queues_the_next(
    client: TestClient, db: Database, clock: ManualClock, other: Brand, world: Any
) -> None:
    bad, good, _sharer, bad_event, good_event = world
    with db.transaction() as session:
        for setup in (bad, good):
            session.add(
                WebhookEndpoint(
                    workspace_id=setup.workspace_id,
                    url="https://hooks.example.com/im2",
                    secret="s" * 40,
                    kinds=["share.clicked"],
                    active=True,
                    created_at=clock.now() - timedelta(hours=1),
                    updated_at=clock.now() - timedelta(hours=1),
                )
            )
    when = f"NEW.event_id = {bad_event}"
    with refusing(db, table="webhook_deliveries", op="INSERT", when=when):
        enqueue_webhooks_job(db, clock)

    with db.session() as session:
        queued = session.scalars(select(WebhookDelivery.event_id)).all()
        assert list(queued) == [good_event]
    [letter] = _dead_letters(client, other)
    assert letter["target_id"] == bad_event
    assert "webhooks_enqueue" in letter["summary"]
    assert enqueue_webhooks_job(db, clock) == 0  # the cursor is past both
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
