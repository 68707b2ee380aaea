"""The participant's draw page: enter with a plain form POST (HTMX swaps the box when there),
see the prizes, the commitment before the draw and the seed and winners after it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from im2.activities.formats.draw import reads, service
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


def draw_path(slug: str, activity_id: int) -> str:
    return f"/c/{slug}/draw/{activity_id}"


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
        view = reads.view_draw(
            session, slug=slug, activity_id=activity_id, device_id=device_id, now=now
        )
    return render(
        request,
        "activities/draw/draw_box.html" if fragment else "activities/draw/public_draw.html",
        {
            "view": view,
            "error": error,
            "notice": notice,
            "consent_text": CONSENT_TEXT,
            "needs_consent": view.participant_id is None,
            "shown": shown_token(request),
            "honeypot": HONEYPOT,
            "action": draw_path(slug, activity_id) + "/enter",
            "record_url": f"/api/v1/public/campaigns/{slug}/draws/{activity_id}/record",
        },
        status_code=status_code,
    )


@router.get("/c/{slug}/draw/{activity_id}")
def draw_page(
    request: Request, slug: str, activity_id: int, db: DbDep, visitor: VisitorDep, now: NowDep
) -> Response:
    notice = _("You are in the draw. Good luck!") if request.query_params.get("entered") else None
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


@router.post("/c/{slug}/draw/{activity_id}/enter")
def enter(
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
            raise IM2Error(_("Your entry could not be accepted."))
        limiter.hit(device_id=visitor.device_id, ip=visitor.ip)
        with db.transaction() as session:
            service.do_enter(
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
            fragment=True,
        )
    # Post/redirect/get: a reload does not send the entry again.
    return RedirectResponse(draw_path(slug, activity_id) + "?entered=1", status_code=303)
