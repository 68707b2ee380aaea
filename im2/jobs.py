"""The in-process job runner of the embedded default: each job every N seconds, with retries.

Every job is idempotent (safe to run twice), so a crash or a second server process running the
same job does no harm; production deployments may run the same functions from a worker instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from im2.activities.formats.cards.jobs import draw_cards_job
from im2.activities.formats.draw.jobs import run_scheduled_draws_job
from im2.activities.formats.groupbuy.jobs import expire_groupbuy_teams_job
from im2.activities.formats.referral.jobs import qualify_referrals_job
from im2.analytics.jobs import move_to_lake_job, warm_rollups_job
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
from im2.webhooks.jobs import enqueue_webhooks_job, send_webhooks_job

log = logging.getLogger("im2.jobs")

# Hooks of higher layers into lower ones, registered where every process that writes rewards
# starts (the web app's job loop and `im2 jobs run` import this module): grants and point rules
# in incentives pay the reward level of the participant's experiment variant.
incentives.use_reward_levels(experiments.RewardLevels)


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    run: Callable[[Database, Clock], Any]


JOBS: tuple[Job, ...] = (
    Job("advance_campaigns", advance_campaigns_job),
    Job("move_to_lake", move_to_lake_job),
    Job("analytics_warm_rollups", warm_rollups_job),
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
)


async def run_jobs_forever(db: Database, clock: Clock, *, interval: float) -> None:
    while True:
        for job in JOBS:
            try:
                await asyncio.to_thread(job.run, db, clock)
            except Exception:  # a failing job is retried at the next tick, never fatal
                log.exception("job %s failed; retrying in %.0f s", job.name, interval)
        await asyncio.sleep(interval)
