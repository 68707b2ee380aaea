"""Page views on the public pages: `campaign.viewed` and `activity.viewed`.

A view is the visitor's, not a participant's: most viewers never take part, so its actor is the
browser's device identity (`visitor_actor`), the same one its share clicks carry. Reach and
unique viewers count distinct actors, so a reload or a later visit of the same browser is one
viewer however many view events it leaves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from im2.events.schemas import VIEW_KINDS, ActorType, EventKind
from im2.events.service import record_events
from im2.participation.schemas import visitor_actor


@dataclass(frozen=True, slots=True)
class PageView:
    """One page shown to a visitor, as the request brought it.

    `referrer` is the share code when the visit came through a share link (the link's
    `share.clicked` has the same code); `properties` carry where else it came from (`source`:
    share, search or referral; `utm`; `from`, the referring site)."""

    kind: EventKind
    workspace_id: int
    campaign_id: int
    activity_id: int | None
    device_id: str
    occurred_at: datetime
    channel: str | None = None
    referrer: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)


def record_views(session: Session, views: Sequence[PageView]) -> list[None]:
    """Append the views' events in one multi-row insert, in the caller's transaction (the
    group commit's batch work: one outcome per view)."""
    rows: list[dict[str, object]] = []
    for view in views:
        if view.kind not in VIEW_KINDS:
            raise ValueError(f"not a view: {view.kind}")
        rows.append(
            {
                "occurred_at": view.occurred_at,
                "workspace_id": view.workspace_id,
                "campaign_id": view.campaign_id,
                "activity_id": view.activity_id,
                "actor_type": ActorType.VISITOR.value,
                "actor_id": visitor_actor(view.device_id),
                "kind": view.kind.value,
                "channel": view.channel,
                "referrer": view.referrer,
                "properties": dict(view.properties),
            }
        )
    record_events(session, rows)
    return [None] * len(views)
