"""The participant's poll page (the shared public frame, one action: vote), the big-screen view,
and the live results stream."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from sse_starlette import EventSourceResponse
from starlette.responses import Response

from im2.activities import service as activities
from im2.activities.formats.poll import service
from im2.activities.formats.poll.live import results_snapshot, submit_vote
from im2.activities.formats.poll.results import results_channel, results_visible
from im2.activities.formats.poll.votes import VoteRequest
from im2.activities.frame import FrameAction, PublicFrame, Seen, Visit, add_public_frame
from im2.activities.schemas import ActivityKind
from im2.errors import Forbidden
from im2.i18n import N_, _, get_locale
from im2.live.sse import stream
from im2.web.deps import DbDep, HubDep, NowDep
from im2.web.params import Id
from im2.web.participant_forms import ParticipantPost
from im2.web.templating import render

router = APIRouter(include_in_schema=False)


def _view(session: Session, visit: Visit) -> Seen:
    return Seen.of(service.view_poll(session, **visit.keywords()))


def _vote(post: ParticipantPost, slug: str, activity_id: int) -> None:
    try:
        option_ids = [int(str(v)) for v in post.form.getlist("option")]
    except ValueError:
        option_ids = [-1]
    # The same group commit as the API: answered once the vote is durable.
    submit_vote(
        post.db,
        post.hub,
        VoteRequest(
            slug=slug,
            activity_id=activity_id,
            option_ids=option_ids,
            locale=get_locale(),
            **post.rules(),
        ),
    ).result()


FRAME = PublicFrame(
    kind=ActivityKind.POLL,
    page_template="activities/poll/public_poll.html",
    box_template="activities/poll/poll_box.html",
    view=_view,
    actions=(
        FrameAction(
            path="vote",
            refused=N_("Your vote could not be accepted."),
            done=N_("Thank you, your vote is in!"),
            done_flag="voted",
            write=_vote,
        ),
    ),
    comments=True,
)
add_public_frame(router, FRAME)


@router.get("/c/{slug}/poll/{activity_id}/screen")
def big_screen(request: Request, slug: str, activity_id: Id, db: DbDep) -> Response:
    """Results for a projector or a live stream: large type, updating live, no controls."""
    with db.session() as session:
        public, row = activities.public_activity(
            session, slug=slug, activity_id=activity_id, kind=ActivityKind.POLL
        )
        activity = activities.to_read(row)
        results = service.load_results(session, activity_id=row.id)
    # The screen is the brand's own display: it shows what a voter would see after voting.
    settings = service.settings_of(activity)
    visible = results_visible(settings, campaign=public.campaign, voted=True)
    return render(
        request,
        "activities/poll/screen.html",
        {"public": public, "activity": activity, "results": results if visible else None},
    )


@router.get("/live/c/{slug}/poll/{activity_id}")
def live_results(
    request: Request, slug: str, activity_id: Id, db: DbDep, hub: HubDep, now: NowDep
) -> EventSourceResponse:
    device_id = getattr(request.state, "device_id", "") or ""
    with db.session() as session:
        view = service.view_poll(
            session, slug=slug, activity_id=activity_id, device_id=device_id, now=now
        )
    screen = request.query_params.get("screen") == "1"
    screen_allowed = screen and results_visible(view.settings, campaign=view.campaign, voted=True)
    if view.results is None and not screen_allowed:
        raise Forbidden(_("The results of this poll are not shown yet."))
    channel = results_channel(activity_id)
    first = hub.latest(channel) or json.dumps(results_snapshot(db, activity_id), ensure_ascii=False)
    return EventSourceResponse(stream(request, hub, channel, first, event="results"))
