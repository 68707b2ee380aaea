"""Console pages of polls that are the poll's own: review held votes, and the results stream
(adding, showing, editing and exporting a poll are the shared console routes, made from
`format.FORMAT`)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse
from starlette.responses import RedirectResponse, Response

from im2.activities.formats.poll import service
from im2.activities.formats.poll.live import refresh_results_on_commit, results_snapshot
from im2.activities.formats.poll.results import results_channel
from im2.live.sse import stream
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, HubDep, NowDep
from im2.web.params import Id

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)


@router.post("/poll/{activity_id}/review/{ballot_id}")
def review(
    request: Request,
    activity_id: Id,
    ballot_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    hub: HubDep,
    now: NowDep,
) -> Response:
    with db.transaction() as session:
        service.do_review_ballot(
            session,
            actor=actor,
            activity_id=activity_id,
            ballot_id=ballot_id,
            approve=form.get("decision") == "approve",
            now=now,
        )
        refresh_results_on_commit(session, db=db, hub=hub, activity_id=activity_id)
    return RedirectResponse(
        f"/console/w/{actor.workspace_slug}/poll/{activity_id}", status_code=303
    )


@router.get("/poll/{activity_id}/live")
def live_results(
    request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep, hub: HubDep
) -> EventSourceResponse:
    with db.session() as session:
        service.poll_results(session, actor=actor, activity_id=activity_id)  # 404 / 403 first
    channel = results_channel(activity_id)
    first = hub.latest(channel) or json.dumps(results_snapshot(db, activity_id), ensure_ascii=False)
    return EventSourceResponse(stream(request, hub, channel, first, event="results"))
