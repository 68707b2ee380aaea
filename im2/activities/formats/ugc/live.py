"""Keeping the gallery and the moderation queue fresh: after a write commits, the hub reloads
the contest's state and fans it out (pages then fetch what they show)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from im2.activities.formats.ugc.service import gallery_channel, gallery_snapshot, queue_channel
from im2.db import Database, on_commit
from im2.live.hub import Hub


def snapshot(db: Database, activity_id: int, *, moderator: bool) -> dict[str, Any]:
    with db.session() as session:
        data = gallery_snapshot(session, activity_id=activity_id)
    if not moderator:
        data.pop("pending")  # the queue's length is the brand's business
    return data


def refresh_on_commit(session: Session, *, db: Database, hub: Hub, activity_id: int) -> None:
    def refresh() -> None:
        hub.refresh(
            gallery_channel(activity_id), lambda: snapshot(db, activity_id, moderator=False)
        )
        hub.refresh(queue_channel(activity_id), lambda: snapshot(db, activity_id, moderator=True))

    on_commit(session, refresh)
