"""The framed activity page, `/e/<campaign slug>/<activity id>`: the one kind of page another
site may frame, and only the sites its workspace allows (CSP `frame-ancestors`).

It works without cookies (browsers block or partition them in frames): the page hands out a
signed widget token, its script keeps the first one it got in the frame's own storage and
sends it as `X-IM2-Token` with the public API calls that read the activity and vote.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from starlette.responses import Response

from im2.embed import service
from im2.embed.schemas import origin_allowed
from im2.embed.tokens import new_identity
from im2.i18n import normalize_locale, set_locale
from im2.web.deps import DbDep, NowDep, SettingsDep
from im2.web.params import Id
from im2.web.security import allow_framing
from im2.web.templating import render

router = APIRouter(include_in_schema=False)


def _parent_origin(request: Request, allowed: list[str]) -> str:
    """The framing site, to post the height to: the `origin` the embed script passes, or the
    Referer's origin (a plain iframe); '' when it is not an allowed one (no messages then)."""
    wanted = request.query_params.get("origin", "")
    if not wanted:
        referer = urlsplit(request.headers.get("referer", ""))
        if referer.scheme and referer.netloc:
            wanted = f"{referer.scheme}://{referer.netloc}"
    return wanted if wanted and origin_allowed(wanted, allowed) else ""


@router.get("/e/{slug}/{activity_id}", name="embed_page")
def embed_page(
    request: Request, slug: str, activity_id: Id, db: DbDep, settings: SettingsDep, now: NowDep
) -> Response:
    locale = normalize_locale(request.query_params.get("lang"))
    if locale:
        set_locale(locale)
    secret = settings.secret_key.get_secret_value()
    with db.session() as session:
        workspace_id = service.workspace_of_campaign(session, slug=slug)
        # A fresh identity: the page is the same for every visitor until the script has
        # read the activity again with the token this frame kept.
        token, device_id = new_identity(secret, workspace_id=workspace_id)
        activity = service.read_widget_activity(
            session, slug=slug, activity_id=activity_id, device_id=device_id, now=now
        )
        allowed = service.allowed_origins(session, workspace_id=workspace_id)
    response = render(
        request,
        "embed/frame.html",
        {
            "activity": activity,
            "token": token,
            "workspace_id": workspace_id,
            "parent_origin": _parent_origin(request, allowed),
            "frame_id": request.query_params.get("frame", "")[:64],
        },
    )
    # Only now, with the page made: an error page on the way stays unframeable.
    allow_framing(request.state, allowed)
    # Each answer carries a new identity: a shared cache must never hand one to everybody.
    response.headers["Cache-Control"] = "no-store"
    return response
