"""Background job of the referral activity."""

from __future__ import annotations

from im2 import isolation
from im2.activities.formats.referral.follow import BATCH, process_events
from im2.clock import Clock
from im2.db import Database


def qualify_referrals_job(db: Database, clock: Clock) -> int:
    """Follow the event log: record invites, qualify them on the configured action, give the
    rewards and milestones. Idempotent and safe to run twice at once; returns events read."""
    return sum(isolation.catch_up(db, clock, process_events, batch=BATCH))
