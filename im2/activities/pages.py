"""Console pages shared by all formats: a campaign's activities and the format picker; each
format's own pages come from its package (`/console/w/<ws>/<kind>/<id>`)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse
from starlette.responses import RedirectResponse, Response

from im2.activities import service
from im2.activities.console import console_router
from im2.activities.live import activity_channel
from im2.activities.registry import FORMATS
from im2.activities.routes import format_routers
from im2.activities.schemas import KIND_LABELS, ActivityKind
from im2.campaigns import service as campaigns
from im2.live.sse import stream
from im2.web.deps import ConsoleActor, DbDep, HubDep
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Permission
from im2.workspaces.service import require

router = APIRouter(include_in_schema=False)
PREFIX = "/console/w/{workspace}"


def available_kinds() -> list[ActivityKind]:
    """The registered formats, in the order of the enum."""
    return FORMATS.kinds()


@router.get(PREFIX + "/campaigns/{campaign_id}/activities")
def campaign_activities(
    request: Request, campaign_id: Id, actor: ConsoleActor, db: DbDep
) -> Response:
    """The campaign's activities; embedded in the campaign page, and a page of its own."""
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
        items = service.list_activities(session, actor=actor, campaign_id=campaign_id)
    fragment = request.headers.get("hx-request") == "true"
    return render(
        request,
        "activities/list_fragment.html" if fragment else "activities/list.html",
        {
            "campaign": campaign,
            "items": items,
            "kinds": available_kinds(),
            "kind_labels": KIND_LABELS,
            "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
            "nav": "campaigns",
        },
    )


@router.get(PREFIX + "/campaigns/{campaign_id}/activities/new")
def pick_format(request: Request, campaign_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    require(actor, Permission.WRITE_CAMPAIGNS)
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    return render(
        request,
        "activities/pick.html",
        {
            "campaign": campaign,
            "kinds": available_kinds(),
            "kind_labels": KIND_LABELS,
            "nav": "campaigns",
        },
    )


@router.get(PREFIX + "/activities/{activity_id}")
def activity(activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    with db.session() as session:
        found = service.get_activity(session, actor=actor, activity_id=activity_id)
    return RedirectResponse(
        f"/console/w/{actor.workspace_slug}/{found.kind.value}/{activity_id}", status_code=307
    )


@router.get(PREFIX + "/activities/{activity_id}/live")
def activity_live(
    request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep, hub: HubDep
) -> EventSourceResponse:
    """Server-sent 'changed' events for a console page of this activity (see `live_swap.html`)."""
    with db.session() as session:  # 404 / 403 first
        service.get_activity(session, actor=actor, activity_id=activity_id)
    channel = activity_channel(activity_id)
    first = hub.latest(channel) or json.dumps({"activity_id": activity_id, "seq": 0})
    return EventSourceResponse(stream(request, hub, channel, first, event="changed"))


# The routes every format shares, made from its declarations, then the format's own.
for _format in FORMATS:
    router.include_router(console_router(_format))
for _router in format_routers("pages"):
    router.include_router(_router)
