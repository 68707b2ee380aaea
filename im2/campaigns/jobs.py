"""Background jobs of the campaigns domain."""

from __future__ import annotations

import logging

from im2.campaigns.service import StatusChange, do_advance_campaigns
from im2.clock import Clock
from im2.db import Database

log = logging.getLogger("im2.campaigns")


def advance_campaigns_job(db: Database, clock: Clock) -> list[StatusChange]:
    """Start and end campaigns at their times. Idempotent: safe to run as often as wanted."""
    with db.transaction() as session:
        changes = do_advance_campaigns(session, now=clock.now())
    for change in changes:
        log.info("campaign %s: %s → %s", change.campaign_id, change.old, change.new)
    return changes
