"""grant_reward, the contract other domains (referral, draws) build on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from im2.clock import ManualClock
from im2.db import Database
from im2.events.service import list_events
from im2.incentives import service as incentives
from im2.incentives.schemas import CouponStatus, RewardKind, RewardSpec
from tests.incentives.conftest import Setup


def test_reward_spec_is_checked() -> None:
    with pytest.raises(ValidationError):
        RewardSpec(kind=RewardKind.POINTS)
    with pytest.raises(ValidationError):
        RewardSpec(kind=RewardKind.POINTS, points=0)
    with pytest.raises(ValidationError):
        RewardSpec(kind=RewardKind.COUPON)
    with pytest.raises(ValidationError):
        RewardSpec(kind=RewardKind.PRIZE, points=5)
    spec = RewardSpec(kind=RewardKind.POINTS, points=5)
    with pytest.raises(ValidationError):
        spec.points = 6  # type: ignore[misc]


def test_points_granted_once_per_key(db: Database, clock: ManualClock, setup: Setup) -> None:
    alice = setup.join(db, clock, "dev-alice")
    spec = RewardSpec(kind=RewardKind.POINTS, points=30)
    kwargs = {
        "workspace_id": setup.workspace_id,
        "campaign_id": setup.campaign_id,
        "participant_id": alice,
        "reward": spec,
        "key": "referral:1:inviter",
        "reason": "invited a friend",
    }
    with db.transaction() as session:
        first = incentives.grant_reward(session, now=clock.now(), **kwargs)  # type: ignore[arg-type]
    with db.transaction() as session:
        second = incentives.grant_reward(session, now=clock.now(), **kwargs)  # type: ignore[arg-type]
    assert first.status == "granted"
    assert first.grant_id is not None
    assert second.status == "duplicate"
    assert second.grant_id == first.grant_id
    with db.session() as session:
        balance = incentives.get_balance(
            session, workspace_id=setup.workspace_id, participant_id=alice, now=clock.now()
        )
        ledger = incentives.list_ledger(session, workspace_id=setup.workspace_id)
        awarded = list_events(session, kinds=["points.awarded"])
    assert balance.points == 30
    assert [(line.delta, line.reason) for line in ledger] == [(30, "invited a friend")]
    assert len(awarded) == 1
    assert awarded[0].properties["points"] == 30


def test_coupon_grant_issues_a_code_and_runs_out(
    db: Database, clock: ManualClock, setup: Setup
) -> None:
    alice = setup.join(db, clock, "dev-alice")
    bob = setup.join(db, clock, "dev-bob")
    with db.transaction() as session:
        pool = incentives.do_create_pool(
            session,
            actor=setup.actor,
            campaign_id=setup.campaign_id,
            name="满100减20",
            now=clock.now(),
        )
        incentives.do_generate_codes(
            session, actor=setup.actor, pool_id=pool.id, count=1, now=clock.now()
        )
    spec = RewardSpec(kind=RewardKind.COUPON, pool_id=pool.id)
    with db.transaction() as session:
        got = incentives.grant_reward(
            session,
            workspace_id=setup.workspace_id,
            campaign_id=setup.campaign_id,
            participant_id=alice,
            reward=spec,
            key="m3:alice",
            reason="3 friends",
            now=clock.now(),
        )
    with db.transaction() as session:
        none_left = incentives.grant_reward(
            session,
            workspace_id=setup.workspace_id,
            campaign_id=setup.campaign_id,
            participant_id=bob,
            reward=spec,
            key="m3:bob",
            reason="3 friends",
            now=clock.now(),
        )
    assert got.status == "granted"
    assert got.coupon_code is not None
    assert none_left == incentives.GrantResult("out_of_stock", None, None)
    with db.session() as session:
        ref = incentives.find_coupon(
            session, workspace_id=setup.workspace_id, code=got.coupon_code.lower()
        )
        assert ref is not None
        assert (ref.participant_id, ref.status, ref.uses, ref.max_uses) == (
            alice,
            CouponStatus.ISSUED,
            0,
            1,
        )
        assert (
            incentives.find_coupon(
                session, workspace_id=setup.workspace_id + 1, code=got.coupon_code
            )
            is None
        )
        [listed] = incentives.list_pools(session, workspace_id=setup.workspace_id)
        assert (listed.total, listed.issued, listed.available) == (1, 1, 0)
    # Once the pool is topped up, the same key can be granted: out of stock wrote nothing.
    with db.transaction() as session:
        incentives.do_generate_codes(
            session, actor=setup.actor, pool_id=pool.id, count=1, now=clock.now()
        )
        again = incentives.grant_reward(
            session,
            workspace_id=setup.workspace_id,
            campaign_id=setup.campaign_id,
            participant_id=bob,
            reward=spec,
            key="m3:bob",
            reason="3 friends",
            now=clock.now(),
        )
    assert again.status == "granted"
    assert again.coupon_code != got.coupon_code


def test_prize_grant_takes_stock(db: Database, clock: ManualClock, setup: Setup) -> None:
    alice = setup.join(db, clock, "dev-alice")
    with db.transaction() as session:
        prize = incentives.do_create_prize(
            session,
            actor=setup.actor,
            campaign_id=setup.campaign_id,
            name="樱花保温杯",
            units=1,
            now=clock.now(),
        )
    spec = RewardSpec(kind=RewardKind.PRIZE, prize_id=prize.id)
    results = []
    for key in ("a", "b"):
        with db.transaction() as session:
            results.append(
                incentives.grant_reward(
                    session,
                    workspace_id=setup.workspace_id,
                    campaign_id=setup.campaign_id,
                    participant_id=alice,
                    reward=spec,
                    key=key,
                    reason="10 friends",
                    now=clock.now(),
                ).status
            )
    assert results == ["granted", "out_of_stock"]
    with db.session() as session:
        [after] = incentives.list_prizes(session, workspace_id=setup.workspace_id)
        claimed = list_events(session, kinds=["prize.claimed"])
    assert after.stock == 0
    assert claimed[0].properties["stock_left"] == 0


def test_disposable_email_holds_the_grant(db: Database, clock: ManualClock, setup: Setup) -> None:
    throwaway = setup.join(db, clock, "dev-x", email="someone@mailinator.com")
    with db.transaction() as session:
        result = incentives.grant_reward(
            session,
            workspace_id=setup.workspace_id,
            campaign_id=setup.campaign_id,
            participant_id=throwaway,
            reward=RewardSpec(kind=RewardKind.POINTS, points=10),
            key="k",
            reason="vote",
            now=clock.now(),
            evidence={"ip": "203.0.113.9"},
        )
    assert result.status == "held"
    with db.session() as session:
        assert (
            incentives.get_balance(
                session,
                workspace_id=setup.workspace_id,
                participant_id=throwaway,
                now=clock.now() + timedelta(seconds=1),
            ).points
            == 0
        )
        [held] = list_events(session, kinds=["reward.held"])
    assert held.properties["evidence"] == {
        "ip": "203.0.113.9",
        "disposable_email_domain": "mailinator.com",
    }
