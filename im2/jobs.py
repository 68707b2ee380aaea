"""The periodic job runner: each job every N seconds, with retries, once across a deployment.

Every job is idempotent (safe to run twice). In the embedded default (SQLite, one process) the
server runs the jobs itself. On PostgreSQL several processes may run the loop (web servers,
`im2 worker`): the one that holds a PostgreSQL advisory lock is the **leader** and runs every
job each tick; the others wait and try again each tick. The lock is held by the leader's own
database connection, so when the leader dies (even by kill -9) PostgreSQL drops the connection,
frees the lock, and another process leads from its next tick: a job that died halfway runs again
there, and no job ever runs in two processes at once (docs/deploy.md "Jobs").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from im2.activities.formats.cards.jobs import draw_cards_job
from im2.activities.formats.draw.jobs import run_scheduled_draws_job
from im2.activities.formats.groupbuy.jobs import expire_groupbuy_teams_job
from im2.activities.formats.referral.jobs import qualify_referrals_job
from im2.analytics.jobs import move_to_lake_job, warm_rollups_job
from im2.analytics.ladder import ladder_job
from im2.campaigns.jobs import advance_campaigns_job
from im2.clock import Clock
from im2.db import Database
from im2.experiments import service as experiments
from im2.incentives import service as incentives
from im2.incentives.jobs import apply_point_rules_job, expire_points_job
from im2.listening.jobs import (
    detect_spikes_job,
    escalate_inbox_job,
    poll_feeds_job,
    score_pending_mentions_job,
)
from im2.messaging.jobs import SendSoon, send_messages_job
from im2.people.consent import service as consents
from im2.people.segments.jobs import segment_entries_job, segment_facts_job
from im2.privacy.jobs import build_exports_job, expire_exports_job
from im2.privacy.lake_rewrite import privacy_lake_rewrite_job
from im2.privacy.retention.jobs import retention_job
from im2.webhooks import service as webhooks
from im2.webhooks.jobs import enqueue_webhooks_job, send_webhooks_job

log = logging.getLogger("im2.jobs")

# Hooks of higher layers into lower ones, registered where every process that writes rewards
# starts (the web app's job loop and `im2 jobs run` import this module): grants and point rules
# in incentives pay the reward level of the participant's experiment variant.
incentives.use_reward_levels(experiments.RewardLevels)
# The webhook outbox sends nothing about people who withdrew consent to sharing with third
# parties (or whose processing is restricted); consent sits above webhooks.
webhooks.use_withheld(consents.withheld_from_receivers)


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    run: Callable[[Database, Clock], Any]


JOBS: tuple[Job, ...] = (
    # First: a participant is waiting for this code, and each job before it delays it.
    Job("messaging_send", send_messages_job),
    Job("advance_campaigns", advance_campaigns_job),
    Job("move_to_lake", move_to_lake_job),
    Job("privacy_lake_rewrite", privacy_lake_rewrite_job),
    Job("analytics_warm_rollups", warm_rollups_job),
    Job("people_ladder", ladder_job),
    Job("segment_facts", segment_facts_job),
    Job("segment_entries", segment_entries_job),
    Job("listening_poll_feeds", poll_feeds_job),
    Job("listening_score_pending", score_pending_mentions_job),
    Job("listening_detect_spikes", detect_spikes_job),
    Job("listening_escalate_inbox", escalate_inbox_job),
    Job("draw_scheduled_draws", run_scheduled_draws_job),
    Job("groupbuy_expire_teams", expire_groupbuy_teams_job),
    Job("referral_qualify", qualify_referrals_job),
    Job("cards_draw", draw_cards_job),
    Job("incentives_point_rules", apply_point_rules_job),
    Job("incentives_expire_points", expire_points_job),
    Job("webhooks_enqueue", enqueue_webhooks_job),
    Job("webhooks_send", send_webhooks_job),
    Job("privacy_retention", retention_job),
    Job("privacy_build_exports", build_exports_job),
    Job("privacy_expire_exports", expire_exports_job),
)


# The key of the runner's advisory lock (one 64-bit number per deployment's database):
# int.from_bytes(b"im2-jobs", "big").
LEADER_LOCK_KEY = 0x696D322D6A6F6273


def run_jobs_once(db: Database, clock: Clock) -> int:
    """Run every job once; a failing job is logged and retried at the next tick, never fatal.
    Returns how many jobs failed."""
    failed = 0
    for job in JOBS:
        try:
            job.run(db, clock)
        except Exception:
            failed += 1
            log.exception("job %s failed; it runs again at the next tick", job.name)
    return failed


class Leadership:
    """The advisory lock that makes one process the jobs' leader (PostgreSQL only; with SQLite
    there is one process and it always leads). Not thread-safe: one runner loop owns it."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        """True when this process leads now: it held the lock and its connection still
        answers, or it just took the lock. A lost connection means the lock is gone too."""
        if self.db.dialect != "postgresql":
            return True
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1"))
                return True
            except DBAPIError:
                log.warning(
                    "the jobs leader lost its database connection; leading again only "
                    "if the lock is still free"
                )
                self.release()
        conn = self.db.engine.connect()
        try:
            got = bool(
                conn.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK_KEY}
                ).scalar()
            )
            conn.commit()  # the lock is the session's, not the transaction's
        except DBAPIError:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        log.info("this process leads the periodic jobs")
        return True

    def release(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LEADER_LOCK_KEY})
            conn.commit()
        except DBAPIError:
            pass  # the connection is gone, and the lock with it
        finally:
            conn.close()


def send_texts_soon(db: Database, clock: Clock) -> Callable[[], None]:
    """Send each text a request queues right after its commit, besides the `messaging_send`
    job's ticks (`im2.messaging.jobs.SendSoon`); returns what stops it."""
    return SendSoon(db, clock).listen()


async def run_jobs_forever(db: Database, clock: Clock, *, interval: float) -> None:
    """Each tick: run every job if this process leads (see the module's docstring)."""
    leadership = Leadership(db)
    try:
        while True:
            try:
                leads = await asyncio.to_thread(leadership.acquire)
            except DBAPIError:
                log.exception("the jobs runner cannot reach the database; trying again")
                leads = False
            if leads:
                await asyncio.to_thread(run_jobs_once, db, clock)
            await asyncio.sleep(interval)
    finally:
        await asyncio.to_thread(leadership.release)
