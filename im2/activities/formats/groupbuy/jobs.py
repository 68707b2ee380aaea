"""Background jobs of the group-buy."""

from __future__ import annotations

from im2.activities.formats.groupbuy.service import expire_teams
from im2.clock import Clock
from im2.db import Database


def expire_groupbuy_teams_job(db: Database, clock: Clock) -> int:
    """Mark teams still short of members at their deadline failed (and tell their members
    through the failure event). Idempotent: a closed team is never closed again."""
    with db.transaction() as session:
        return expire_teams(session, now=clock.now())
