"""Background jobs of segments: the facts from the event log, and who entered which segment."""

from __future__ import annotations

import time

from im2 import isolation
from im2.clock import Clock
from im2.db import Database
from im2.people.segments import service
from im2.people.segments.facts import do_update_facts

# One run reads batches until the log is caught up or this many seconds have passed (a first
# run over millions of events goes on at the next tick).
FACTS_BUDGET_S = 20.0


def segment_facts_job(db: Database, clock: Clock) -> int:
    """Follow the event log into the segments' facts. Idempotent: each batch moves the cursor
    in its own transaction."""
    read = 0
    started = time.monotonic()
    while time.monotonic() - started < FACTS_BUDGET_S:
        with db.transaction() as session:
            done = do_update_facts(session, now=clock.now())
        read += done
        if done == 0:
            break
    return read


def segment_entries_job(db: Database, clock: Clock) -> int:
    """Record `segment.entered` for people who came into a segment since the last run. Each
    segment in a transaction of its own: one that fails is logged and tried again next tick."""
    now = clock.now()
    with db.session() as session:
        ids = service.live_segment_ids(session)

    def track(segment_id: int) -> int:
        with db.transaction() as session:
            return service.do_track_entries(session, segment_id=segment_id, now=now)

    done = isolation.each(ids, track, job="segment_entries", key=lambda s: f"segment {s}")
    return sum(done.results)
