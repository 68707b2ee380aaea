"""Jobs of the incentives domain: points for events by the rules, and points expiry."""

from __future__ import annotations

from im2 import isolation
from im2.clock import Clock
from im2.db import Database
from im2.incentives import service

PG_SETTLE = isolation.SETTLE_POSTGRES  # how old an event must be to be followed, on PostgreSQL


def apply_point_rules_job(db: Database, clock: Clock) -> int:
    """Follow the event log and award points by the campaigns' rules; returns points entries
    written. Runs batches until it has caught up."""
    runs = isolation.catch_up(
        db, clock, service.apply_rules, batch=service.RULES_BATCH, read=lambda run: run.events_seen
    )
    return sum(run.awarded for run in runs)


def expire_points_job(db: Database, clock: Clock) -> int:
    """Write expiry entries for the unspent part of credits that expired since the last run;
    returns the points expired. (Spends expire what is due first too, and balances never count
    an expired credit, so a run that comes late changes nothing a participant sees.)"""
    now = clock.now()
    with db.session() as session:
        holders = service.participants_with_expired_credit(
            session, now=now, since=service.expiry_watermark(session)
        )

    def expire(holder: tuple[int, int]) -> int:
        workspace_id, participant_id = holder
        with db.transaction() as session:  # one wallet locked at a time, briefly
            return service.expire_points(
                session, workspace_id=workspace_id, participant_id=participant_id, now=now
            )

    done = isolation.each(
        holders,
        expire,
        job="incentives_expire_points",
        key=lambda h: f"participant {h[1]} (workspace {h[0]})",
    )
    if not done.failed:  # only once all are done: a crash or a failed wallet means a retry
        with db.transaction() as session:
            service.set_expiry_watermark(session, now=now)
    return sum(done.results)
