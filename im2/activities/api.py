"""JSON API shared by all formats; each format's own routes come from its package."""

from __future__ import annotations

from fastapi import APIRouter

from im2.activities import service
from im2.activities.routes import format_routers
from im2.activities.schemas import ActivityRead
from im2.web.deps import ApiActor, DbDep
from im2.web.params import Id

# No prefix here: format routers carry their full paths and are included below.
router = APIRouter(tags=["activities"])


@router.get(
    "/api/v1/campaigns/{campaign_id}/activities",
    response_model=list[ActivityRead],
    summary="A campaign's activities, in page order",
)
def list_activities(campaign_id: Id, actor: ApiActor, db: DbDep) -> list[ActivityRead]:
    with db.session() as session:
        return service.list_activities(session, actor=actor, campaign_id=campaign_id)


@router.get("/api/v1/activities/{activity_id}", response_model=ActivityRead, summary="One activity")
def get_activity(activity_id: Id, actor: ApiActor, db: DbDep) -> ActivityRead:
    with db.session() as session:
        return service.get_activity(session, actor=actor, activity_id=activity_id)


for _router in format_routers("api"):
    router.include_router(_router)
