"""Console pages of polls that are the poll's own: review held votes, and the results stream
(adding, showing, editing and exporting a poll are the shared console routes, made from
`format.FORMAT`)."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse

from im2.activities.formats.pages import add_review, live_snapshots
from im2.activities.formats.poll import service
from im2.activities.formats.poll.live import refresh_results_on_commit, results_snapshot
from im2.activities.formats.poll.results import results_channel
from im2.web.deps import ConsoleActor, DbDep, HubDep
from im2.web.params import Id

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)


add_review(router, service.do_review_ballot, refresh=refresh_results_on_commit)


@router.get("/poll/{activity_id}/live")
def live_results(
    request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep, hub: HubDep
) -> EventSourceResponse:
    with db.session() as session:
        service.poll_results(session, actor=actor, activity_id=activity_id)  # 404 / 403 first
    snapshot = partial(results_snapshot, db, activity_id)
    return live_snapshots(request, hub, results_channel(activity_id), snapshot, event="results")
