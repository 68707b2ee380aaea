"""The participant's group-buy pages: the offer (open a team, or join one that is filling),
and a team's own page behind its share link. Both actions are plain form POSTs that redirect
(post/redirect/get); HTMX swaps the team box when it is there."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from im2.activities.formats.groupbuy import reads, service
from im2.activities.formats.groupbuy.schemas import STATUS_LABELS, TeamRead
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


def offer_path(slug: str, activity_id: int) -> str:
    return f"/c/{slug}/groupbuy/{activity_id}"


def _offer_page(
    request: Request,
    *,
    slug: str,
    activity_id: int,
    db: DbDep,
    device_id: str,
    now: NowDep,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    with db.session() as session:
        view = reads.view_offer(
            session, slug=slug, activity_id=activity_id, device_id=device_id, now=now
        )
    return render(
        request,
        "activities/groupbuy/public_offer.html",
        {
            "view": view,
            "error": error,
            "status_labels": STATUS_LABELS,
            "consent_text": CONSENT_TEXT,
            "needs_consent": view.participant_id is None,
            "shown": shown_token(request),
            "honeypot": HONEYPOT,
            "action": offer_path(slug, activity_id) + "/open",
        },
        status_code=status_code,
    )


def _team_page(
    request: Request,
    *,
    slug: str,
    activity_id: int,
    code: str,
    db: DbDep,
    device_id: str,
    now: NowDep,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
    fragment: bool = False,
) -> Response:
    with db.session() as session:
        view = reads.view_team(
            session, slug=slug, activity_id=activity_id, code=code, device_id=device_id, now=now
        )
    return render(
        request,
        "activities/groupbuy/team_box.html" if fragment else "activities/groupbuy/public_team.html",
        {
            "view": view,
            "error": error,
            "notice": notice,
            "status_labels": STATUS_LABELS,
            "consent_text": CONSENT_TEXT,
            "needs_consent": view.participant_id is None,
            "shown": shown_token(request),
            "honeypot": HONEYPOT,
            "action": view.team.share_path + "/join",
            "share_url": str(request.base_url).rstrip("/") + view.team.share_path,
        },
        status_code=status_code,
    )


@router.get("/c/{slug}/groupbuy/{activity_id}")
def offer_page(
    request: Request, slug: str, activity_id: int, db: DbDep, visitor: VisitorDep, now: NowDep
) -> Response:
    response = _offer_page(
        request, slug=slug, activity_id=activity_id, db=db, device_id=visitor.device_id, now=now
    )
    return remember_channel(request, response)


def _act(
    request: Request,
    form: CsrfForm,
    db: DbDep,
    limiter: LimiterDep,
    visitor: VisitorDep,
    settings: SettingsDep,
    now: NowDep,
    action: Callable[..., TeamRead],
    **where: object,
) -> TeamRead:
    """The shared steps of opening and joining: honeypot, rate limit, one transaction."""
    if form.get(HONEYPOT):
        # Only bots fill the hidden field; tell them nothing useful and write nothing.
        raise IM2Error(_("Your request could not be accepted."))
    limiter.hit(device_id=visitor.device_id, ip=visitor.ip)
    session: Session
    with db.transaction() as session:
        return action(
            session,
            visitor=visitor,
            consented=form.get("consent") == "yes",
            seconds_on_page=seconds_on_page(request, str(form.get("shown") or "")),
            risk_threshold=settings.risk_hold_threshold,
            identities_per_ip_hour=settings.risk_identities_per_ip_hour,
            now=now,
            **where,
        )


@router.post("/c/{slug}/groupbuy/{activity_id}/open")
def open_team(
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
    try:
        team = _act(
            request,
            form,
            db,
            limiter,
            visitor,
            settings,
            now,
            service.do_open_team,
            slug=slug,
            activity_id=activity_id,
        )
    except IM2Error as exc:
        if isinstance(exc, NotFound):
            raise
        return _offer_page(
            request,
            slug=slug,
            activity_id=activity_id,
            db=db,
            device_id=visitor.device_id,
            now=now,
            error=exc.message,
            status_code=exc.status_code,
        )
    return RedirectResponse(team.share_path + "?opened=1", status_code=303)


@router.get("/c/{slug}/groupbuy/{activity_id}/team/{code}")
def team_page(
    request: Request,
    slug: str,
    activity_id: int,
    code: str,
    db: DbDep,
    visitor: VisitorDep,
    now: NowDep,
) -> Response:
    notice = None
    if request.query_params.get("opened"):
        notice = _("Your team is open. Share the link so that friends can join!")
    elif request.query_params.get("joined"):
        notice = _("You have joined the team.")
    response = _team_page(
        request,
        slug=slug,
        activity_id=activity_id,
        code=code,
        db=db,
        device_id=visitor.device_id,
        now=now,
        notice=notice,
        fragment=request.headers.get("hx-request") == "true",  # the members' refresh
    )
    return remember_channel(request, response)


@router.post("/c/{slug}/groupbuy/{activity_id}/team/{code}/join")
def join_team(
    request: Request,
    slug: str,
    activity_id: int,
    code: str,
    form: CsrfForm,
    db: DbDep,
    limiter: LimiterDep,
    visitor: VisitorDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    htmx = request.headers.get("hx-request") == "true"
    try:
        team = _act(
            request,
            form,
            db,
            limiter,
            visitor,
            settings,
            now,
            service.do_join_team,
            slug=slug,
            activity_id=activity_id,
            code=code,
        )
    except IM2Error as exc:
        if isinstance(exc, NotFound):
            raise
        return _team_page(
            request,
            slug=slug,
            activity_id=activity_id,
            code=code,
            db=db,
            now=now,
            device_id=visitor.device_id,
            error=exc.message,
            status_code=exc.status_code,
            fragment=htmx,
        )
    if htmx:
        return _team_page(
            request,
            slug=slug,
            activity_id=activity_id,
            code=code,
            db=db,
            now=now,
            device_id=visitor.device_id,
            notice=_("You have joined the team."),
            fragment=True,
        )
    return RedirectResponse(team.share_path + "?joined=1", status_code=303)
