"""The participant's checkin page: enter with a plain form POST (HTMX swaps the box when there),
see the prizes, the commitment before the checkin and the seed and winners after it."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from im2.activities.formats.checkin import service
from im2.errors import IM2Error, NotFound
from im2.i18n import _
from im2.web.deps import DbDep, NowDep, VisitorDep, remember_channel
from im2.web.params import Id
from im2.web.participant_forms import ParticipantPostDep, form_context
from im2.web.templating import render

router = APIRouter(include_in_schema=False)


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
            **form_context(request, needs_consent=view.participant_id is None),
            "action": checkin_path(slug, activity_id) + "/check-in",
            "page_url": checkin_path(slug, activity_id),
        },
        status_code=status_code,
    )


@router.get("/c/{slug}/checkin/{activity_id}")
def checkin_page(
    request: Request, slug: str, activity_id: Id, db: DbDep, visitor: VisitorDep, now: NowDep
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
def check_in(request: Request, slug: str, activity_id: Id, post: ParticipantPostDep) -> Response:
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
            lambda session: service.do_check_in(
                session, slug=slug, activity_id=activity_id, **post.rules()
            ),
            refused=_("Your check-in could not be accepted."),
            activity_id=activity_id,
        )
    except IM2Error as exc:
        if isinstance(exc, NotFound):
            raise
        return page(error=exc.message, status_code=exc.status_code, fragment=post.htmx)
    if post.htmx:
        return page(notice=_("Checked in for today. See you tomorrow!"), fragment=True)
    # Post/redirect/get: a reload does not send the check-in again.
    return RedirectResponse(checkin_path(slug, activity_id) + "?done=1", status_code=303)
