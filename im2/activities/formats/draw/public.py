"""The participant's draw page: enter with a plain form POST (HTMX swaps the box when there),
see the prizes, the commitment before the draw and the seed and winners after it."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from im2.activities.formats.draw import reads, service
from im2.errors import IM2Error, NotFound
from im2.i18n import _
from im2.web.deps import DbDep, NowDep, VisitorDep, remember_channel
from im2.web.params import Id
from im2.web.participant_forms import ParticipantPostDep, form_context
from im2.web.templating import render

router = APIRouter(include_in_schema=False)


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
            **form_context(request, needs_consent=view.participant_id is None),
            "action": draw_path(slug, activity_id) + "/enter",
            "record_url": f"/api/v1/public/campaigns/{slug}/draws/{activity_id}/record",
        },
        status_code=status_code,
    )


@router.get("/c/{slug}/draw/{activity_id}")
def draw_page(
    request: Request, slug: str, activity_id: Id, db: DbDep, visitor: VisitorDep, now: NowDep
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
def enter(request: Request, slug: str, activity_id: Id, post: ParticipantPostDep) -> Response:
    page = partial(
        _page,
        request,
        slug=slug,
        activity_id=activity_id,
        db=post.db,
        device_id=post.visitor.device_id,
        now=post.now,
    )
    try:
        post.run(
            lambda session: service.do_enter(
                session, slug=slug, activity_id=activity_id, **post.rules()
            ),
            refused=_("Your entry could not be accepted."),
            activity_id=activity_id,
        )
    except IM2Error as exc:
        if isinstance(exc, NotFound):
            raise
        return page(error=exc.message, status_code=exc.status_code, fragment=post.htmx)
    if post.htmx:
        return page(fragment=True)
    # Post/redirect/get: a reload does not send the entry again.
    return RedirectResponse(draw_path(slug, activity_id) + "?entered=1", status_code=303)
