"""What a campaign change leaves behind: the audit entry and the event, written together, and
the announcement (`CAMPAIGN_CHANGED`, after the commit) that this process's caches of
campaigns hear."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from im2.campaigns.models import Campaign
from im2.db import announce
from im2.events.schemas import EventKind
from im2.events.service import record_event
from im2.workspaces.schemas import Actor
from im2.workspaces.service import record_audit

CAMPAIGN_CHANGED = "campaign_changed"


def record_change(
    session: Session,
    *,
    actor: Actor,
    campaign: Campaign,
    kind: EventKind,
    action: str,
    summary: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
    properties: dict[str, Any] | None = None,
) -> None:
    record_audit(
        session,
        actor,
        action,
        ("campaign", campaign.id),
        summary,
        now=now,
        before=before,
        after=after,
        workspace_id=campaign.workspace_id,
    )
    record_event(
        session,
        kind=kind,
        occurred_at=now,
        workspace_id=campaign.workspace_id,
        campaign_id=campaign.id,
        actor_type=actor.type,
        actor_id=actor.id,
        properties=properties or {},
    )
    announce(session, CAMPAIGN_CHANGED, campaign.id)
