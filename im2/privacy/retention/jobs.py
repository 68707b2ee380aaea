"""The retention job: each workspace with a policy, once a day (or on, while a run is partial)."""

from __future__ import annotations

from datetime import timedelta

from im2 import isolation
from im2.clock import Clock
from im2.config import get_settings
from im2.db import Database
from im2.privacy.retention import service

EVERY = timedelta(days=1)


def retention_job(db: Database, clock: Clock) -> int:
    """Run every due workspace's retention; one workspace's failure never stops the others.
    Returns how many workspaces ran."""
    settings = get_settings()
    now = clock.now()
    with db.session() as session:
        due = service.due_workspaces(session, now=now, every=EVERY)
    outcome = isolation.each(
        due,
        lambda workspace_id: service.run_retention(
            db,
            workspace_id=workspace_id,
            now=now,
            lake_path=settings.lake_path,
            media_path=settings.media_path,
        ),
        job=service.JOB,
        key=lambda w: f"workspace {w}",
    )
    return len(outcome.results)
