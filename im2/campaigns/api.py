"""JSON API for campaigns: CRUD, status transitions, duplication."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from im2.campaigns import service
from im2.campaigns.presets import PRESETS
from im2.campaigns.schemas import (
    CampaignCreate,
    CampaignDuplicate,
    CampaignFilter,
    CampaignPage,
    CampaignRead,
    CampaignStatus,
    CampaignTransition,
    CampaignUpdate,
    Channel,
    Objective,
)
from im2.web.db_calls import read, write
from im2.web.deps import ApiActor, DbDep, NowDep
from im2.web.params import Id

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"])


@router.get("", response_model=CampaignPage, summary="List campaigns, newest first")
def list_campaigns(
    actor: ApiActor,
    db: DbDep,
    status: Annotated[list[CampaignStatus], Query()] = [],  # noqa: B006 (FastAPI reads it)
    objective: Objective | None = None,
    channel: Channel | None = None,
    q: Annotated[str | None, Query(max_length=120)] = None,
    include_archived: bool = False,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> CampaignPage:
    filters = CampaignFilter(
        status=status, objective=objective, channel=channel, q=q, include_archived=include_archived
    )
    return read(
        db, service.list_campaigns, actor=actor, filters=filters, cursor=cursor, limit=limit
    )


@router.get("/templates", summary="Campaign templates that pre-fill a new campaign")
def list_templates() -> list[dict[str, object]]:
    return [
        {
            "key": p.key,
            "title": p.title,
            "objective": p.objective,
            "duration_days": p.duration_days,
            "kpi_targets": [
                {"metric": k.metric, "target_value": k.target_value} for k in p.kpi_targets
            ],
            "channels": [
                {"channel": c.channel, "media": c.media, "budget": c.budget} for c in p.channels
            ],
        }
        for p in PRESETS
    ]


@router.post("", response_model=CampaignRead, status_code=201, summary="Create a campaign")
def create_campaign(body: CampaignCreate, actor: ApiActor, db: DbDep, now: NowDep) -> CampaignRead:
    return write(db, service.do_create_campaign, actor=actor, data=body, now=now)


@router.get("/{campaign_id}", response_model=CampaignRead, summary="One campaign")
def get_campaign(campaign_id: Id, actor: ApiActor, db: DbDep) -> CampaignRead:
    return read(db, service.get_campaign, actor=actor, campaign_id=campaign_id)


@router.patch("/{campaign_id}", response_model=CampaignRead, summary="Edit a campaign")
def update_campaign(
    campaign_id: Id, body: CampaignUpdate, actor: ApiActor, db: DbDep, now: NowDep
) -> CampaignRead:
    return write(
        db, service.do_update_campaign, actor=actor, campaign_id=campaign_id, data=body, now=now
    )


@router.post(
    "/{campaign_id}/transitions",
    response_model=CampaignRead,
    summary="Move a campaign to another status (schedule, go live, pause, end, archive)",
)
def transition_campaign(
    campaign_id: Id, body: CampaignTransition, actor: ApiActor, db: DbDep, now: NowDep
) -> CampaignRead:
    return write(
        db,
        service.do_transition_campaign,
        actor=actor,
        campaign_id=campaign_id,
        to=body.status,
        now=now,
    )


@router.post(
    "/{campaign_id}/duplicate",
    response_model=CampaignRead,
    status_code=201,
    summary="Copy a campaign into a new draft",
)
def duplicate_campaign(
    campaign_id: Id, body: CampaignDuplicate, actor: ApiActor, db: DbDep, now: NowDep
) -> CampaignRead:
    return write(
        db, service.do_duplicate_campaign, actor=actor, campaign_id=campaign_id, data=body, now=now
    )
