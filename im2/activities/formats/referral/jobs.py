"""Background job of the referral activity."""

from __future__ import annotations

from datetime import timedelta

from im2.activities.formats.referral.service import BATCH, SETTLE_POSTGRES, process_events
from im2.clock import Clock
from im2.db import Database


def qualify_referrals_job(db: Database, clock: Clock) -> int:
    """Follow the event log: record invites, qualify them on the configured action, give the
    rewards and milestones. Idempotent and safe to run twice at once; returns events read."""
    settle = SETTLE_POSTGRES if db.dialect == "postgresql" else timedelta(0)
    total = 0
    while True:
        with db.transaction() as session:
            handled = process_events(session, now=clock.now(), settle=settle)
        total += handled
        if handled < BATCH:
            return total
