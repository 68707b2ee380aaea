"""The participant's checkin page: enter with a plain form POST (HTMX swaps the box when there),
see the prizes, the commitment before the checkin and the seed and winners after it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from im2.activities.formats.checkin import service
from im2.errors import IM2Error, NotFound
from im2.i18n import _
from im2.participation.schemas import CONSENT_TEXT
from im2.web.deps import (
    CsrfForm,
    DbDep,
    LimiterDep,
    NowDep,
    SettingsDep,
    VisitorDep,
    remember_channel,
    seconds_on_page,
    shown_token,
)
from im2.web.templating import render

router = APIRouter(include_in_schema=False)
HONEYPOT = "website"


def checkin_path(slug: str, activity_id: int) -> str:
    return f"/c/{slug}/checkin/{activity_id}"


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
        view = service.view_checkin(
            session,
            slug=slug,
            activity_id=activity_id,
            device_id=device_id,
            now=now,
            month=request.query_params.get("month"),
        )
    return render(
        request,
        "activities/checkin/checkin_box.html"
        if fragment
        else "activities/checkin/public_checkin.html",
        {
            "view": view,
            "error": error,
            "notice": notice,
            "consent_text": CONSENT_TEXT,
            "needs_consent": view.participant_id is None,
            "shown": shown_token(request),
            "honeypot": HONEYPOT,
            "action": checkin_path(slug, activity_id) + "/check-in",
            "page_url": checkin_path(slug, activity_id),
        },
        status_code=status_code,
    )


@router.get("/c/{slug}/checkin/{activity_id}")
def checkin_page(
    request: Request, slug: str, activity_id: int, db: DbDep, visitor: VisitorDep, now: NowDep
) -> Response:
    notice = (
        _("Checked in for today. See you tomorrow!") if request.query_params.get("done") else None
    )
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


@router.post("/c/{slug}/checkin/{activity_id}/check-in")
def check_in(
    request: Request,
    slug: str,
    activity_id: int,
    form: CsrfForm,
    db: DbDep,
    limiter: LimiterDep,
    visitor: VisitorDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    htmx = request.headers.get("hx-request") == "true"
    try:
        if form.get(HONEYPOT):
            # Only bots fill the hidden field; tell them nothing useful and write nothing.
            raise IM2Error(_("Your check-in could not be accepted."))
        limiter.hit(device_id=visitor.device_id, ip=visitor.ip)
        with db.transaction() as session:
            service.do_check_in(
                session,
                slug=slug,
                activity_id=activity_id,
                visitor=visitor,
                consented=form.get("consent") == "yes",
                seconds_on_page=seconds_on_page(request, str(form.get("shown") or "")),
                risk_threshold=settings.risk_hold_threshold,
                identities_per_ip_hour=settings.risk_identities_per_ip_hour,
                now=now,
            )
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
            notice=_("Checked in for today. See you tomorrow!"),
            fragment=True,
        )
    # Post/redirect/get: a reload does not send the check-in again.
    return RedirectResponse(checkin_path(slug, activity_id) + "?done=1", status_code=303)
