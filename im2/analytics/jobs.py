"""Background jobs of the analytics domain."""

from __future__ import annotations

import logging

from im2.analytics.lake import MoveResult, get_mark, move_events_to_lake
from im2.analytics.query import warm_rollups
from im2.analytics.rollup import LAKE_ROLLUPS
from im2.campaigns.service import live_campaign_zones
from im2.clock import Clock
from im2.config import get_settings
from im2.db import Database

log = logging.getLogger("im2.analytics")


def move_to_lake_job(db: Database, clock: Clock) -> MoveResult:
    """Move committed events to the Parquet lake. Idempotent and safe after a crash: the
    high-water mark only advances once the batch's files are in place (see lake.py)."""
    settings = get_settings()
    result = move_events_to_lake(
        db,
        lake_path=settings.lake_path,
        now=clock.now(),
        batch_size=settings.lake_batch_size,
        retention_days=settings.lake_retention_days,
    )
    if result.moved:
        log.info(
            "lake: moved %d events in %d files (mark %d)",
            result.moved,
            result.files,
            result.last_id,
        )
    return result


def warm_rollups_job(db: Database, clock: Clock) -> list[tuple[int, str]]:
    """Keep the dashboards' lake rollups (im2.analytics.rollup) current, so that no one waits
    for one: the campaigns someone is watching (their rollups are kept) are extended by each
    move's files, and live campaigns fill the room left, which after a restart means the first
    dashboard request is warm too. Nothing to do when the mark has not moved (the kept rollups
    are already at it): each rollup is built once per process and then only extended.

    Returns the (campaign, time zone) pairs held, least wanted first."""
    lake_path = get_settings().lake_path
    with db.session() as session:
        mark = get_mark(session)
        live = live_campaign_zones(session, limit=LAKE_ROLLUPS.max_cached)
    if mark == 0:
        return []
    watched = [(c, tz) for path, c, tz in LAKE_ROLLUPS.held() if path == str(lake_path)]
    room = max(LAKE_ROLLUPS.max_cached - len(watched), 0)
    extra = [pair for pair in live if pair not in watched][:room]
    # Acquired in this order, the watched ones stay the most recently used: a live campaign
    # no one watches never pushes one that someone does out of the cache.
    wanted = [*reversed(extra), *watched]
    # One campaign whose rollup cannot be built is logged and left out; the others are warmed.
    return warm_rollups(lake_path=lake_path, mark=mark, campaigns=wanted)
