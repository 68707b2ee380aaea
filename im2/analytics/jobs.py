"""Background jobs of the analytics domain."""

from __future__ import annotations

import logging

from im2.analytics.lake import MoveResult, move_events_to_lake
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
