"""'This activity changed': one live channel per activity that every participant write announces
after it commits, so that console pages (results, leaderboards, review queues) refresh within a
second without polling. The message carries no data; a page fetches what it shows when told."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from im2.db import on_commit
from im2.live.hub import Hub

_sequence = itertools.count(1)


def activity_channel(activity_id: int) -> str:
    return f"activity:{activity_id}:changed"


def announce_on_commit(session: Session, *, hub: Hub, activity_id: int) -> None:
    """After `session` commits, tell the activity's subscribers that it changed."""
    on_commit(
        session,
        lambda: hub.publish(
            activity_channel(activity_id), {"activity_id": activity_id, "seq": next(_sequence)}
        ),
    )
