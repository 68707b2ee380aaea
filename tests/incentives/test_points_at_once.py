"""Points paid at once (in the action's transaction) and the rules job never pay one event
twice, whichever runs first and even when both run at the same time; a daily cap holds across
both paths."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from im2.clock import ManualClock
from im2.db import Database
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.incentives import jobs, service
from tests.incentives.conftest import Setup


def _act(db: Database, clock: ManualClock, setup: Setup, who: int, *, at_once: bool) -> int:
    """One vote by `who`, paid in its own transaction when `at_once` (as a public form does)."""
    with db.transaction() as session:
        record_event(
            session,
            kind=EventKind.VOTE_CAST,
            occurred_at=clock.now(),
            workspace_id=setup.workspace_id,
            campaign_id=setup.campaign_id,
            actor_type=ActorType.PARTICIPANT,
            actor_id=who,
        )
        session.flush()
        return service.award_at_once(session, occurred_at=clock.now()) if at_once else 0


def _balance(db: Database, clock: ManualClock, setup: Setup, who: int) -> int:
    with db.session() as session:
        return service.get_balance(
            session, workspace_id=setup.workspace_id, participant_id=who, now=clock.now()
        ).points


def _rule(db: Database, clock: ManualClock, setup: Setup, **caps: int) -> None:
    with db.transaction() as session:
        service.do_save_rule(
            session,
            actor=setup.actor,
            campaign_id=setup.campaign_id,
            event_kind="vote.cast",
            points=5,
            now=clock.now(),
            **caps,
        )
    clock.advance(timedelta(minutes=1))


def test_paid_at_once_then_the_job_pays_nothing_more(
    db: Database, clock: ManualClock, setup: Setup
) -> None:
    alice = setup.join(db, clock, "dev-alice")
    _rule(db, clock, setup)
    assert _act(db, clock, setup, alice, at_once=True) == 5
    assert _balance(db, clock, setup, alice) == 5  # before any job ran
    clock.advance(jobs.PG_SETTLE + timedelta(seconds=1))
    assert jobs.apply_point_rules_job(db, clock) == 0
    assert _balance(db, clock, setup, alice) == 5


def test_the_job_first_then_at_once_pays_nothing_more(
    db: Database, clock: ManualClock, setup: Setup
) -> None:
    alice = setup.join(db, clock, "dev-alice")
    _rule(db, clock, setup)
    voted_at = clock.now()
    _act(db, clock, setup, alice, at_once=False)
    clock.advance(jobs.PG_SETTLE + timedelta(seconds=1))
    assert jobs.apply_point_rules_job(db, clock) == 1
    with db.transaction() as session:
        assert service.award_at_once(session, occurred_at=voted_at) == 0
    assert _balance(db, clock, setup, alice) == 5


def test_at_once_and_the_job_at_the_same_time_pay_once_and_keep_the_daily_cap(
    db: Database, clock: ManualClock, setup: Setup
) -> None:
    alice = setup.join(db, clock, "dev-alice")
    _rule(db, clock, setup, daily_cap=2)
    moments = []
    for _ in range(3):  # three votes today; the cap pays two
        moments.append(clock.now())
        _act(db, clock, setup, alice, at_once=False)
        clock.advance(timedelta(seconds=1))
    clock.advance(jobs.PG_SETTLE + timedelta(seconds=1))

    def at_once(moment: object) -> int:
        with db.transaction() as session:
            return service.award_at_once(session, occurred_at=moment)  # type: ignore[arg-type]

    with ThreadPoolExecutor(max_workers=4) as pool:
        job = pool.submit(jobs.apply_point_rules_job, db, clock)
        paid = [pool.submit(at_once, moment) for moment in moments]
        paid_at_once = sum(future.result() for future in paid)
        paid_by_job = 5 * job.result()
    assert paid_at_once + paid_by_job == 10
    assert _balance(db, clock, setup, alice) == 10
