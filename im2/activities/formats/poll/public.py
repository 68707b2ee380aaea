"""The participant's poll page: a plain form POST without JavaScript, HTMX swap with it;
the big-screen view; and the live results stream."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse
from starlette.responses import RedirectResponse, Response

from im2.activities import service as activities
from im2.activities.formats.poll import service
from im2.activities.formats.poll.live import results_snapshot, submit_vote
from im2.activities.schemas import ActivityKind
from im2.errors import Forbidden, IM2Error, NotFound
from im2.i18n import _, get_locale
from im2.live.sse import stream
from im2.participation import comments
from im2.participation.schemas import CONSENT_TEXT
from im2.web.deps import (
    CsrfForm,
    DbDep,
    HubDep,
    LimiterDep,
    NowDep,
    SettingsDep,
    VisitorDep,
    remember_channel,
    seconds_on_page,
    shown_token,
)
from im2.web.params import Id
from im2.web.templating import render

router = APIRouter(include_in_schema=False)
HONEYPOT = "website"


def poll_path(slug: str, activity_id: int) -> str:
    return f"/c/{slug}/poll/{activity_id}"


def _page(
    request: Request,
    *,
    slug: str,
    activity_id: int,
    db: DbDep,
    device_id: str,
    now: NowDep,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
    fragment: bool = False,
) -> Response:
    with db.session() as session:
        view = service.view_poll(
            session, slug=slug, activity_id=activity_id, device_id=device_id, now=now
        )
        thread = (
            []
            if fragment
            else comments.list_comments(session, target_type="activity", target_id=activity_id)
        )
    return render(
        request,
        "activities/poll/poll_box.html" if fragment else "activities/poll/public_poll.html",
        {
            "comments": thread,
            "target_type": "activity",
            "target_id": activity_id,
            "slug": slug,
            "back": poll_path(slug, activity_id),
            "view": view,
            "error": error,
            "notice": notice,
            "consent_text": CONSENT_TEXT,
            "needs_consent": view.participant_id is None,
            "shown": shown_token(request),
            "honeypot": HONEYPOT,
            "action": poll_path(slug, activity_id) + "/vote",
        },
        status_code=status_code,
    )


@router.get("/c/{slug}/poll/{activity_id}")
def poll_page(
    request: Request, slug: str, activity_id: Id, db: DbDep, visitor: VisitorDep, now: NowDep
) -> Response:
    notice = _("Thank you, your vote is in!") if request.query_params.get("voted") else None
    response = _page(
        request,
        slug=slug,
        activity_id=activity_id,
        db=db,
        device_id=visitor.device_id,
        now=now,
        notice=notice,
    )
    return remember_channel(request, response)


@router.post("/c/{slug}/poll/{activity_id}/vote")
def vote(
    request: Request,
    slug: str,
    activity_id: Id,
    form: CsrfForm,
    db: DbDep,
    hub: HubDep,
    limiter: LimiterDep,
    visitor: VisitorDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    htmx = request.headers.get("hx-request") == "true"
    try:
        if form.get(HONEYPOT):
            # Only bots fill the hidden field; tell them nothing useful and write nothing.
            raise IM2Error(_("Your vote could not be accepted."))
        try:
            option_ids = [int(str(v)) for v in form.getlist("option")]
        except ValueError:
            option_ids = [-1]
        limiter.hit(device_id=visitor.device_id, ip=visitor.ip)
        # The same group commit as the API: answered once the vote is durable.
        submit_vote(
            db,
            hub,
            service.VoteRequest(
                slug=slug,
                activity_id=activity_id,
                visitor=visitor,
                option_ids=option_ids,
                consented=form.get("consent") == "yes",
                seconds_on_page=seconds_on_page(request, str(form.get("shown") or "")),
                risk_threshold=settings.risk_hold_threshold,
                identities_per_ip_hour=settings.risk_identities_per_ip_hour,
                now=now,
                locale=get_locale(),
            ),
        ).result()
    except IM2Error as exc:
        if isinstance(exc, NotFound):
            raise
        return _page(
            request,
            slug=slug,
            activity_id=activity_id,
            db=db,
            device_id=visitor.device_id,
            now=now,
            error=exc.message,
            status_code=exc.status_code,
            fragment=htmx,
        )
    if htmx:
        return _page(
            request,
            slug=slug,
            activity_id=activity_id,
            db=db,
            device_id=visitor.device_id,
            now=now,
            notice=_("Thank you, your vote is in!"),
            fragment=True,
        )
    # Post/redirect/get: a reload does not send the vote again.
    return RedirectResponse(poll_path(slug, activity_id) + "?voted=1", status_code=303)


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
    visible = service.results_visible(activity.settings, campaign=public.campaign, voted=True)
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
    screen_allowed = screen and service.results_visible(
        view.activity.settings, campaign=view.campaign, voted=True
    )
    if view.results is None and not screen_allowed:
        raise Forbidden(_("The results of this poll are not shown yet."))
    channel = service.results_channel(activity_id)
    first = hub.latest(channel) or json.dumps(results_snapshot(db, activity_id), ensure_ascii=False)
    return EventSourceResponse(stream(request, hub, channel, first, event="results"))
