"""Background jobs of the campaigns domain."""

from __future__ import annotations

import logging

from im2 import isolation
from im2.campaigns.service import StatusChange, do_advance_campaign, due_campaign_ids
from im2.clock import Clock
from im2.db import Database

log = logging.getLogger("im2.campaigns")


def advance_campaigns_job(db: Database, clock: Clock) -> list[StatusChange]:
    """Start and end campaigns at their times. Idempotent: safe to run as often as wanted.
    Each campaign in a transaction of its own: one that fails (logged with its id) stays as
    it was and is tried again next tick, and the others, in every workspace, go on."""
    now = clock.now()
    with db.session() as session:
        due = due_campaign_ids(session, now=now)

    def advance(campaign_id: int) -> list[StatusChange]:
        with db.transaction() as session:
            return do_advance_campaign(session, campaign_id=campaign_id, now=now)

    done = isolation.each(due, advance, job="advance_campaigns", key=lambda c: f"campaign {c}")
    changes = [change for found in done.results for change in found]
    for change in changes:
        log.info("campaign %s: %s → %s", change.campaign_id, change.old, change.new)
    return changes
