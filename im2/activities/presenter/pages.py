"""Presenter mode and join codes over HTTP.

    GET /console/w/<ws>/activities/<id>/present         the big screen (opens in its own tab)
    GET /console/w/<ws>/activities/<id>/present/stage   its stage alone, fetched again when live
    GET /j/<code>   (and /j?code=…)                     a join code → the activity's public page

The screen is a console page (a quiz's screen shows the right answers; only the brand may open
it). Its stage refreshes on the activity's live channels, never by polling the database.
"""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any

import qrcode
import qrcode.constants
import qrcode.image.svg
from fastapi import APIRouter, Request
from limits import parse
from starlette.responses import RedirectResponse, Response

from im2.activities.presenter import service
from im2.activities.schemas import KIND_LABELS, ActivityKind
from im2.errors import NotFound
from im2.i18n import _
from im2.web.context import DEVICE_COOKIE
from im2.web.deps import ConsoleActor, DbDep, NowDep, client_ip
from im2.web.links import public_base_url
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.throttle import Counters

router = APIRouter(include_in_schema=False)
CONSOLE = "/console/w/{workspace}/activities/{activity_id}/present"
# Wrong codes only: a room behind one network types the right code hundreds of times, a
# guesser mostly types wrong ones. 100 misses an hour from a network, 20 from one browser.
MISSES_PER_NETWORK = parse("100/hour")
MISSES_PER_DEVICE = parse("20/hour")


def qr_svg(text: str) -> str:
    """An SVG QR code as a data: URI (the screen needs no second request, and scales it)."""
    buffer = io.BytesIO()
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    qr.add_data(text)
    qr.make(fit=True)
    qr.make_image(image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _streams(workspace: str, kind: ActivityKind, activity_id: int) -> list[tuple[str, str]]:
    """The live channels a stage listens to: (SSE URL, event name)."""
    console = f"/console/w/{workspace}"
    changed = (f"{console}/activities/{activity_id}/live", "changed")
    if kind is ActivityKind.POLL:
        return [(f"{console}/poll/{activity_id}/live", "results")]
    if kind is ActivityKind.QA:  # questions asked, upvoted, approved, pinned
        return [(f"{console}/qa/{activity_id}/live", "queue")]
    if kind is ActivityKind.UGC:  # entries sent, approved, voted for
        return [(f"{console}/ugc/{activity_id}/live", "queue")]
    return [changed]


def _context(request: Request, stage: service.Stage, *, workspace: str) -> dict[str, Any]:
    activity = stage.activity
    return {
        "stage": stage,
        "activity": activity,
        "campaign": stage.campaign,
        "show": stage.show,
        "kind": activity.kind.value,
        "kind_label": KIND_LABELS[activity.kind],
        "stage_url": CONSOLE.format(workspace=workspace, activity_id=activity.id) + "/stage",
    }


@router.get(CONSOLE)
def present(
    request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    workspace = actor.workspace_slug
    with db.transaction() as session:  # the join code is made the first time
        activity = service.load_presentable(session, actor=actor, activity_id=activity_id)
        code = service.do_join_code(
            session, activity=activity, workspace_id=actor.workspace_id, now=now
        )
    with db.session() as session:
        stage = service.stage(session, actor=actor, activity_id=activity_id)
    base = public_base_url(request)
    join_url = f"{base}/j/{code}"
    context = _context(request, stage, workspace=workspace)
    context.update(
        {
            "code": code,
            "join_url": join_url,
            "join_host": base.split("://", 1)[-1] + "/j",
            "qr": qr_svg(join_url),
            "streams": _streams(workspace, activity.kind, activity.id),
            "back": f"/console/w/{workspace}/{activity.kind.value}/{activity.id}",
        }
    )
    return render(request, "activities/presenter/frame.html", context)


@router.get(CONSOLE + "/stage")
def present_stage(request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    with db.session() as session:
        stage = service.stage(session, actor=actor, activity_id=activity_id)
    context = _context(request, stage, workspace=actor.workspace_slug)
    return render(request, "activities/presenter/stage.html", context)


# --- the participant's side --------------------------------------------------------------------


def _counters(request: Request) -> Counters:
    counters: Counters | None = getattr(request.app.state, "join_counters", None)
    if counters is None:
        counters = Counters(request.app.state.settings.redis_url)
        request.app.state.join_counters = counters
    return counters


def _missing(request: Request, *, code: str, message: str, status_code: int) -> Response:
    return render(
        request,
        "activities/presenter/join.html",
        {"code": code, "message": message},
        status_code=status_code,
    )


@router.get("/j")
def join_form(request: Request) -> Response:
    """The code typed into the form of the page below (GET: it works without JavaScript)."""
    code = "".join(ch for ch in request.query_params.get("code", "") if ch.isdigit())
    if code:
        return RedirectResponse(f"/j/{code}", status_code=303)
    return _missing(request, code="", message="", status_code=200)


@router.get("/j/{code}")
def join(request: Request, code: str, db: DbDep) -> Response:
    counters = _counters(request)
    # The browser: its signed device cookie, if it has been to a campaign (a guesser who drops
    # cookies still meets the network's limit).
    cookie = request.cookies.get(DEVICE_COOKIE, "")
    device = hashlib.sha256(cookie.encode()).hexdigest() if cookie else ""
    ip = client_ip(request, request.app.state.settings) or ""
    if not (
        (not device or counters.test(MISSES_PER_DEVICE, "join-device", device))
        and counters.test(MISSES_PER_NETWORK, "join-ip", ip)
    ):
        message = _("Too many wrong codes; wait a while and try again.")
        return _missing(request, code=code[:12], message=message, status_code=429)
    shown = code[:12]
    if not (code.isdigit() and len(code) == service.CODE_DIGITS):
        target = None
    else:
        try:
            with db.session() as session:
                target = service.find_join_target(session, code=code)
        except NotFound:
            target = None
    if target is None:
        if device:
            counters.hit(MISSES_PER_DEVICE, "join-device", device)
        counters.hit(MISSES_PER_NETWORK, "join-ip", ip)
        return _missing(
            request,
            code=shown,
            message=_("No activity has the code {code}. Check the number on the screen.").format(
                code=shown
            ),
            status_code=404,
        )
    return RedirectResponse(
        f"/c/{target.slug}/{target.kind.value}/{target.activity_id}", status_code=303
    )
