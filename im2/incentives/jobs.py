"""Jobs of the incentives domain: points for events by the rules, and points expiry."""

from __future__ import annotations

from datetime import timedelta

from im2 import isolation
from im2.clock import Clock
from im2.db import Database
from im2.incentives import service

# On PostgreSQL an event's id is drawn before its transaction commits, so a later id can become
# visible first; reading only events a few seconds old never jumps over one. SQLite commits in
# id order.
PG_SETTLE = timedelta(seconds=5)


def apply_point_rules_job(db: Database, clock: Clock) -> int:
    """Follow the event log and award points by the campaigns' rules; returns points entries
    written. Runs batches until it has caught up."""
    settle = PG_SETTLE if db.dialect == "postgresql" else timedelta(0)
    awarded = 0
    while True:
        with db.transaction() as session:
            run = service.apply_rules(session, now=clock.now(), settle=settle)
        awarded += run.awarded
        if run.events_seen < service.RULES_BATCH:
            return awarded


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
