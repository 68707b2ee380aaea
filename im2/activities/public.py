"""Public participant pages under /c/<campaign-slug>: mobile first, the core action works as a
plain form POST without JavaScript; HTMX swaps the result in place when it is there."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from im2.activities import service
from im2.activities.live import refresh_results_on_commit
from im2.activities.schemas import KIND_LABELS
from im2.errors import IM2Error
from im2.i18n import _
from im2.participation.schemas import CONSENT_TEXT
from im2.web.deps import (
    CHANNEL_COOKIE,
    CsrfForm,
    DbDep,
    HubDep,
    LimiterDep,
    NowDep,
    SettingsDep,
    VisitorDep,
    seconds_on_page,
    shown_token,
)
from im2.web.templating import render

router = APIRouter(prefix="/c", include_in_schema=False)

HONEYPOT = "website"


def _remember_channel(request: Request, response: Response) -> Response:
    channel = request.query_params.get("ch")
    if channel:
        response.set_cookie(CHANNEL_COOKIE, channel[:32], max_age=30 * 24 * 3600, samesite="lax")
    return response


@router.get("/{slug}")
def campaign_page(request: Request, slug: str, db: DbDep) -> Response:
    with db.session() as session:
        public = service.get_public_campaign(session, slug=slug)
    response = render(
        request,
        "activities/public_campaign.html",
        {
            "public": public,
            "closed_reason": service.closed_reason(public.campaign),
            "kind_labels": KIND_LABELS,
        },
    )
    return _remember_channel(request, response)


def _poll_page(
    request: Request,
    *,
    slug: str,
    activity_id: int,
    db: DbDep,
    visitor_device: str,
    now: NowDep,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
    fragment: bool = False,
) -> Response:
    with db.session() as session:
        view = service.view_poll(
            session, slug=slug, activity_id=activity_id, device_id=visitor_device, now=now
        )
    template = "activities/poll_box.html" if fragment else "activities/public_poll.html"
    return render(
        request,
        template,
        {
            "view": view,
            "error": error,
            "notice": notice,
            "consent_text": CONSENT_TEXT,
            "needs_consent": view.participant_id is None,
            "shown": shown_token(request),
            "honeypot": HONEYPOT,
        },
        status_code=status_code,
    )


@router.get("/{slug}/a/{activity_id}")
def poll_page(
    request: Request, slug: str, activity_id: int, db: DbDep, visitor: VisitorDep, now: NowDep
) -> Response:
    notice = _("Thank you, your vote is in!") if request.query_params.get("voted") else None
    response = _poll_page(
        request,
        slug=slug,
        activity_id=activity_id,
        db=db,
        visitor_device=visitor.device_id,
        now=now,
        notice=notice,
    )
    return _remember_channel(request, response)


@router.post("/{slug}/a/{activity_id}/vote")
def vote(
    request: Request,
    slug: str,
    activity_id: int,
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
        with db.transaction() as session:
            service.do_vote(
                session,
                slug=slug,
                activity_id=activity_id,
                visitor=visitor,
                option_ids=option_ids,
                consented=form.get("consent") == "yes",
                seconds_on_page=seconds_on_page(request, str(form.get("shown") or "")),
                risk_threshold=settings.risk_hold_threshold,
                identities_per_ip_hour=settings.risk_identities_per_ip_hour,
                now=now,
            )
            refresh_results_on_commit(session, db=db, hub=hub, activity_id=activity_id)
    except IM2Error as exc:
        if exc.status_code == 404:
            raise
        return _poll_page(
            request,
            slug=slug,
            activity_id=activity_id,
            db=db,
            visitor_device=visitor.device_id,
            now=now,
            error=exc.message,
            status_code=exc.status_code,
            fragment=htmx,
        )
    if htmx:
        return _poll_page(
            request,
            slug=slug,
            activity_id=activity_id,
            db=db,
            visitor_device=visitor.device_id,
            now=now,
            notice=_("Thank you, your vote is in!"),
            fragment=True,
        )
    # Post/redirect/get: a reload does not resend the vote.
    return RedirectResponse(f"/c/{slug}/a/{activity_id}?voted=1", status_code=303)


@router.get("/{slug}/a/{activity_id}/screen")
def big_screen(request: Request, slug: str, activity_id: int, db: DbDep, now: NowDep) -> Response:
    """Results for a projector or a live stream: large type, updating live, no controls."""
    with db.session() as session:
        public = service.get_public_campaign(session, slug=slug)
        activity = next((a for a in public.activities if a.id == activity_id), None)
        if activity is None:
            return render(
                request, "error.html", {"status": 404, "message": _("Not found.")}, status_code=404
            )
        results = service.load_results(session, activity_id=activity_id)
    # The screen is the brand's own display: it shows what a voter would see after voting.
    visible = service.results_visible(activity.settings, campaign=public.campaign, voted=True)
    return render(
        request,
        "activities/screen.html",
        {"public": public, "activity": activity, "results": results if visible else None},
    )
