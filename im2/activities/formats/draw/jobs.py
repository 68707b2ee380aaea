"""Background jobs of the lucky draw."""

from __future__ import annotations

import logging

from im2 import isolation
from im2.activities.formats.draw.service import do_run_draw, due_draws
from im2.clock import Clock
from im2.db import Database

log = logging.getLogger("im2.activities.draw")


def run_scheduled_draws_job(db: Database, clock: Clock) -> list[int]:
    """Hold every scheduled draw whose time has come; the draws held (activity ids).
    Idempotent: each draw is claimed by a conditional UPDATE, one transaction per draw;
    one draw failing never holds up another."""
    now = clock.now()
    with db.session() as session:
        due = due_draws(session, now=now)

    def hold(activity_id: int) -> int:
        with db.transaction() as session:
            winners = do_run_draw(session, activity_id=activity_id, now=now)
        log.info("draw %s held: %d winners", activity_id, len(winners))
        return activity_id

    # A draw that fails stays scheduled (its claim rolled back) and is tried again next tick;
    # the other draws due are held all the same.
    return isolation.each(
        due, hold, job="draw_scheduled_draws", key=lambda a: f"draw activity {a}"
    ).results
