"""Background jobs of the group-buy."""

from __future__ import annotations

from im2 import isolation
from im2.activities.formats.groupbuy.service import expire_team, expired_team_ids
from im2.clock import Clock
from im2.db import Database


def expire_groupbuy_teams_job(db: Database, clock: Clock) -> int:
    """Mark teams still short of members at their deadline failed (and tell their members
    through the failure event); how many. Idempotent: a closed team is never closed again.
    Each team in a transaction of its own: one that fails (logged with its id) stays open and
    is tried again next tick, and the other teams, in every workspace, are closed all the same."""
    now = clock.now()
    with db.session() as session:
        due = expired_team_ids(session, now=now)

    def close(team_id: int) -> bool:
        with db.transaction() as session:
            return expire_team(session, team_id=team_id, now=now)

    done = isolation.each(due, close, job="groupbuy_expire_teams", key=lambda t: f"team {t}")
    return sum(done.results)
