"""Server-sent event streams under /live: results that change on every open page."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from im2.activities import service as activities
from im2.activities.live import results_snapshot
from im2.errors import Forbidden
from im2.i18n import _
from im2.live.hub import Hub
from im2.web.deps import ConsoleActor, DbDep, HubDep, NowDep

router = APIRouter(prefix="/live", include_in_schema=False)
HEARTBEAT_SECONDS = 15.0


async def _stream(
    request: Request, hub: Hub, channel: str, first: str
) -> AsyncIterator[ServerSentEvent]:
    async for message in hub.subscribe(channel, first=first, heartbeat=HEARTBEAT_SECONDS):
        if await request.is_disconnected():
            return
        if message is None:
            yield ServerSentEvent(comment="keep-alive")
        else:
            yield ServerSentEvent(data=message, event="results")


def _first(hub: Hub, channel: str, db: DbDep, activity_id: int) -> str:
    return hub.latest(channel) or json.dumps(results_snapshot(db, activity_id), ensure_ascii=False)


@router.get("/c/{slug}/activities/{activity_id}")
def public_results(
    request: Request, slug: str, activity_id: int, db: DbDep, hub: HubDep, now: NowDep
) -> EventSourceResponse:
    device_id = getattr(request.state, "device_id", "") or ""
    with db.session() as session:
        view = activities.view_poll(
            session, slug=slug, activity_id=activity_id, device_id=device_id, now=now
        )
    screen = request.query_params.get("screen") == "1"
    if view.results is None and not (
        screen and view.activity.settings.get("results") != "after_end"
    ):
        raise Forbidden(_("The results of this poll are not shown yet."))
    channel = activities.results_channel(activity_id)
    return EventSourceResponse(
        _stream(request, hub, channel, _first(hub, channel, db, activity_id))
    )


@router.get("/console/w/{workspace}/activities/{activity_id}")
def console_results(
    request: Request, activity_id: int, actor: ConsoleActor, db: DbDep, hub: HubDep
) -> EventSourceResponse:
    with db.session() as session:
        activities.get_activity(session, actor=actor, activity_id=activity_id)
    channel = activities.results_channel(activity_id)
    return EventSourceResponse(
        _stream(request, hub, channel, _first(hub, channel, db, activity_id))
    )
