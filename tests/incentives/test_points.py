"""The points ledger: rules that follow the event log, caps, expiry (FIFO), spending."""

from __future__ import annotations

from datetime import timedelta

import pytest

from im2.clock import ManualClock
from im2.db import Database
from im2.events.schemas import ActorType, EventKind
from im2.events.service import list_events, record_event
from im2.incentives import jobs, service
from tests.incentives.conftest import Setup


def _event(db: Database, clock: ManualClock, setup: Setup, kind: EventKind, who: int) -> None:
    with db.transaction() as session:
        record_event(
            session,
            kind=kind,
            occurred_at=clock.now(),
            workspace_id=setup.workspace_id,
            campaign_id=setup.campaign_id,
            actor_type=ActorType.PARTICIPANT,
            actor_id=who,
        )


def _rules(db: Database, clock: ManualClock) -> int:
    """Run the rules job once the events are older than PostgreSQL's settling time."""
    clock.advance(jobs.PG_SETTLE + timedelta(seconds=1))
    return jobs.apply_point_rules_job(db, clock)


def _balance(db: Database, clock: ManualClock, setup: Setup, who: int) -> int:
    with db.session() as session:
        return service.get_balance(
            session, workspace_id=setup.workspace_id, participant_id=who, now=clock.now()
        ).points


def test_rules_award_once_per_event_with_caps(
    db: Database, clock: ManualClock, setup: Setup
) -> None:
    alice = setup.join(db, clock, "dev-alice")
    with db.transaction() as session:
        service.do_save_rule(
            session,
            actor=setup.actor,
            campaign_id=setup.campaign_id,
            event_kind="vote.cast",
            points=5,
            daily_cap=2,
            total_cap=3,
            now=clock.now(),
        )
        service.do_save_rule(
            session,
            actor=setup.actor,
            campaign_id=setup.campaign_id,
            event_kind="checkin.milestone",
            points=50,
            now=clock.now(),
        )
    clock.advance(timedelta(minutes=1))
    for _ in range(3):  # three votes on Monday: the daily cap lets two count
        _event(db, clock, setup, EventKind.VOTE_CAST, alice)
    _event(db, clock, setup, EventKind.STREAK_MILESTONE, alice)
    _event(db, clock, setup, EventKind.COMMENT_POSTED, alice)  # no rule for comments
    assert _rules(db, clock) == 3
    assert _balance(db, clock, setup, alice) == 5 + 5 + 50
    assert _rules(db, clock) == 0  # re-running never double-awards

    # Even with the cursor lost, the ledger keys keep every (rule, event) awarded once.
    with db.transaction() as session:
        from sqlalchemy import update

        from im2.incentives.models import Cursor

        session.execute(update(Cursor).values(last_event_id=0))
    assert _rules(db, clock) == 0
    assert _balance(db, clock, setup, alice) == 60

    clock.advance(timedelta(days=1))  # Tuesday: the daily cap resets; the total cap (3) bites
    _event(db, clock, setup, EventKind.VOTE_CAST, alice)
    _event(db, clock, setup, EventKind.VOTE_CAST, alice)
    assert _rules(db, clock) == 1
    assert _balance(db, clock, setup, alice) == 65
    with db.session() as session:
        awarded = list_events(session, kinds=["points.awarded"])
    assert [e.properties["points"] for e in awarded] == [5, 5, 50, 5]


def test_share_click_rewards_the_sharer(db: Database, clock: ManualClock, setup: Setup) -> None:
    sharer = setup.join(db, clock, "dev-sharer")
    with db.transaction() as session:
        service.do_save_rule(
            session,
            actor=setup.actor,
            campaign_id=setup.campaign_id,
            event_kind="share.clicked",
            points=2,
            now=clock.now(),
        )
        record_event(
            session,
            kind=EventKind.SHARE_CLICKED,
            occurred_at=clock.now(),
            workspace_id=setup.workspace_id,
            campaign_id=setup.campaign_id,
            actor_type=ActorType.PARTICIPANT,
            actor_id=None,
            properties={"device": "someone-else", "sharer": sharer},
        )
    _rules(db, clock)
    assert _balance(db, clock, setup, sharer) == 2


def test_rule_input_is_checked(db: Database, clock: ManualClock, setup: Setup) -> None:
    from im2.errors import InvalidInput

    with db.transaction() as session, pytest.raises(InvalidInput) as bad_kind:
        service.do_save_rule(
            session,
            actor=setup.actor,
            campaign_id=setup.campaign_id,
            event_kind="user.logged_in",
            points=5,
            now=clock.now(),
        )
    assert bad_kind.value.field == "event_kind"
    with db.transaction() as session, pytest.raises(InvalidInput) as bad_caps:
        service.do_save_rule(
            session,
            actor=setup.actor,
            campaign_id=setup.campaign_id,
            event_kind="vote.cast",
            points=5,
            daily_cap=5,
            total_cap=2,
            now=clock.now(),
        )
    assert bad_caps.value.field == "daily_cap"


def test_expiry_takes_the_unspent_part_first_in_first_out(
    db: Database, clock: ManualClock, setup: Setup
) -> None:
    bob = setup.join(db, clock, "dev-bob")
    start = clock.now()
    with db.transaction() as session:
        service.award_points(
            session,
            workspace_id=setup.workspace_id,
            campaign_id=setup.campaign_id,
            participant_id=bob,
            points=100,
            key="old",
            reason="welcome",
            now=start,
            expires_at=start + timedelta(days=30),
        )
        service.award_points(
            session,
            workspace_id=setup.workspace_id,
            campaign_id=setup.campaign_id,
            participant_id=bob,
            points=40,
            key="new",
            reason="vote",
            now=start,
            expires_at=start + timedelta(days=90),
        )
    clock.advance(timedelta(days=1))
    with db.transaction() as session:  # spends the oldest credit first: 70 of the 100
        service.spend_points(
            session,
            workspace_id=setup.workspace_id,
            campaign_id=setup.campaign_id,
            participant_id=bob,
            points=70,
            key="buy-1",
            reason="mug",
            now=clock.now(),
        )
    with db.session() as session:
        soon = service.get_balance(
            session,
            workspace_id=setup.workspace_id,
            participant_id=bob,
            now=start + timedelta(days=25),
        )
    assert (soon.points, soon.expiring_soon) == (70, 30)

    clock.set(start + timedelta(days=31))
    assert _balance(db, clock, setup, bob) == 40  # already not spendable before the job runs
    assert jobs.expire_points_job(db, clock) == 30
    assert jobs.expire_points_job(db, clock) == 0  # idempotent
    with db.session() as session:
        assert service.participants_with_expired_credit(session, now=clock.now()) == []
    with db.session() as session:
        lines = service.list_ledger(session, workspace_id=setup.workspace_id, participant_id=bob)
        expired = list_events(session, kinds=["points.expired"])
    assert [(line.kind, line.delta) for line in lines] == [
        ("expiry", -30),
        ("spend", -70),
        ("award", 40),
        ("award", 100),
    ]
    assert expired[0].properties["points"] == 30
    assert _balance(db, clock, setup, bob) == 40

    clock.set(start + timedelta(days=91))
    assert jobs.expire_points_job(db, clock) == 40
    assert _balance(db, clock, setup, bob) == 0


def test_spending_beyond_the_balance_writes_nothing(
    db: Database, clock: ManualClock, setup: Setup
) -> None:
    carol = setup.join(db, clock, "dev-carol")
    with db.transaction() as session:
        service.award_points(
            session,
            workspace_id=setup.workspace_id,
            campaign_id=setup.campaign_id,
            participant_id=carol,
            points=10,
            key="k1",
            reason="vote",
            now=clock.now(),
        )
    with pytest.raises(service.NotEnoughPoints) as short, db.transaction() as session:
        service.spend_points(
            session,
            workspace_id=setup.workspace_id,
            campaign_id=setup.campaign_id,
            participant_id=carol,
            points=11,
            key="k2",
            reason="mug",
            now=clock.now(),
        )
    assert "10" in short.value.message
    with db.transaction() as session:
        assert service.spend_points(
            session,
            workspace_id=setup.workspace_id,
            campaign_id=setup.campaign_id,
            participant_id=carol,
            points=10,
            key="k3",
            reason="mug",
            now=clock.now(),
        )
        assert not service.spend_points(  # the same key again: nothing more is spent
            session,
            workspace_id=setup.workspace_id,
            campaign_id=setup.campaign_id,
            participant_id=carol,
            points=10,
            key="k3",
            reason="mug",
            now=clock.now(),
        )
    assert _balance(db, clock, setup, carol) == 0
