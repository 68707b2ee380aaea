"""JSON API shared by all formats: a campaign's activities, one activity, and each format's
create and edit routes made from its `ActivityFormat.api` declaration (POST
/api/v1/campaigns/{campaign_id}/<plural> adds one, PATCH /api/v1/<plural>/{activity_id} edits
one; the routes keep the names `create_<kind>` and `update_<kind>`, and so the operation ids
they had when every format wrote them out). Each format's other routes come from its package.
"""

# No `from __future__ import annotations` here: FastAPI reads the body's model from each
# generated route's annotations, which must be the format's classes, not strings.

from typing import Any

from fastapi import APIRouter, Response

from im2.activities import deletion, service
from im2.activities.protocol import ActivityFormat, Api
from im2.activities.registry import FORMATS
from im2.activities.routes import format_routers
from im2.activities.schemas import ActivityRead
from im2.web.deps import ApiActor, DbDep, NowDep
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


@router.delete(
    "/api/v1/activities/{activity_id}",
    status_code=204,
    summary="Delete an activity nobody has taken part in",
    responses={
        204: {"description": "Deleted, or deleted before (a repeated request changes nothing)."},
        409: {
            "description": "People have taken part in it (end or archive the campaign "
            "instead: its data stays for reports), or its campaign has ended or is archived."
        },
    },
)
def delete_activity(activity_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> Response:
    """Removes the activity and its setup (options, questions, prizes …), with an entry in the
    audit log. Needs the `campaigns:write` scope, as the other activity writes."""
    with db.transaction() as session:
        deletion.do_delete_activity(session, actor=actor, activity_id=activity_id, now=now)
    return Response(status_code=204)


def api_router(fmt: ActivityFormat[Any]) -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    if fmt.api is not None:
        _add_routes(router, fmt.kind.value, fmt.api)
    return router


def _add_routes(router: APIRouter, kind: str, api: Api) -> None:
    create_model, update_model = api.create_model, api.update_model

    def create(
        campaign_id: Id,
        body: create_model,  # type: ignore[valid-type]
        actor: ApiActor,
        db: DbDep,
        now: NowDep,
    ) -> ActivityRead:
        with db.transaction() as session:
            return api.create(session, actor=actor, campaign_id=campaign_id, data=body, now=now)

    def update(
        activity_id: Id,
        body: update_model,  # type: ignore[valid-type]
        actor: ApiActor,
        db: DbDep,
        now: NowDep,
    ) -> ActivityRead:
        with db.transaction() as session:
            return api.update(session, actor=actor, activity_id=activity_id, data=body, now=now)

    router.add_api_route(
        f"/campaigns/{{campaign_id}}/{api.plural}",
        create,
        methods=["POST"],
        response_model=ActivityRead,
        status_code=201,
        summary=api.create_summary,
        tags=[api.tag],
        name=f"create_{kind}",
    )
    router.add_api_route(
        f"/{api.plural}/{{activity_id}}",
        update,
        methods=["PATCH"],
        response_model=ActivityRead,
        summary=api.update_summary,
        tags=[api.tag],
        name=f"update_{kind}",
    )


# The routes every format shares, made from its declaration, then the format's own.
for _format in FORMATS:
    router.include_router(api_router(_format))
for _router in format_routers("api"):
    router.include_router(_router)
