"""Keeping the Q&A boards fresh: after a write commits, the hub reloads and fans out both the
audience's board (approved questions) and the moderators' queue."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from im2.activities.formats.qa.service import load_board, questions_channel, queue_channel
from im2.db import Database, on_commit
from im2.live.hub import Hub


def board_snapshot(db: Database, activity_id: int, *, moderator: bool) -> dict[str, Any]:
    with db.session() as session:
        board = load_board(session, activity_id=activity_id, moderator=moderator)
        return board.model_dump(mode="json")


def refresh_boards_on_commit(session: Session, *, db: Database, hub: Hub, activity_id: int) -> None:
    def refresh() -> None:
        hub.refresh(
            questions_channel(activity_id),
            lambda: board_snapshot(db, activity_id, moderator=False),
        )
        hub.refresh(
            queue_channel(activity_id), lambda: board_snapshot(db, activity_id, moderator=True)
        )

    on_commit(session, refresh)
