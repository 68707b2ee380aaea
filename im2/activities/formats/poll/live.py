"""Keeping live results fresh: after a vote commits, the hub reloads and fans out the results."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from im2.activities.formats.poll.service import load_results, results_channel
from im2.db import Database, on_commit
from im2.live.hub import Hub


def results_snapshot(db: Database, activity_id: int) -> dict[str, Any]:
    with db.session() as session:
        return load_results(session, activity_id=activity_id).model_dump(mode="json")


def refresh_results_on_commit(
    session: Session, *, db: Database, hub: Hub, activity_id: int
) -> None:
    on_commit(
        session,
        lambda: hub.refresh(
            results_channel(activity_id), lambda: results_snapshot(db, activity_id)
        ),
    )
