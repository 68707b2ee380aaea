"""The participant's group-buy pages: the offer (open a team, or join one that is filling),
and a team's own page behind its share link. Both actions are plain form POSTs that redirect
(post/redirect/get); HTMX swaps the team box when it is there."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter
from starlette.responses import RedirectResponse, Response

from im2.activities.formats.groupbuy import reads, service
from im2.activities.formats.groupbuy.schemas import STATUS_LABELS
from im2.errors import IM2Error
from im2.i18n import _
from im2.web import participant_forms as forms
from im2.web.deps import remember_channel
from im2.web.links import public_base_url
from im2.web.params import Id
from im2.web.participant_forms import PageAtDep, ParticipantPostDep, form_context
from im2.web.templating import render

router = APIRouter(include_in_schema=False)


def offer_path(slug: str, activity_id: int) -> str:
    return f"/c/{slug}/groupbuy/{activity_id}"


def _offer_page(at: forms.PageAt, *, refusal: forms.Refusal = forms.NOTHING_REFUSED) -> Response:
    with at.db.session() as session:
        view = reads.view_offer(session, **at.keywords(), now=at.now)
    return render(
        at.request,
        "activities/groupbuy/public_offer.html",
        {
            "view": view,
            "status_labels": STATUS_LABELS,
            **form_context(at.request, needs_consent=view.participant_id is None),
            **refusal.context(),
            "action": offer_path(at.slug, at.activity_id) + "/open",
        },
        status_code=refusal.status_code,
    )


def _team_page(
    at: forms.PageAt,
    code: str,
    *,
    refusal: forms.Refusal = forms.NOTHING_REFUSED,
    notice: str | None = None,
    fragment: bool = False,
) -> Response:
    with at.db.session() as session:
        view = reads.view_team(session, **at.keywords(), code=code, now=at.now)
    request = at.request
    return render(
        request,
        "activities/groupbuy/team_box.html" if fragment else "activities/groupbuy/public_team.html",
        {
            "view": view,
            "notice": notice,
            "status_labels": STATUS_LABELS,
            **form_context(request, needs_consent=view.participant_id is None),
            **refusal.context(),
            "action": view.team.share_path + "/join",
            "share_url": public_base_url(request) + view.team.share_path,
        },
        status_code=refusal.status_code,
    )


@router.get("/c/{slug}/groupbuy/{activity_id}")
def offer_page(at: PageAtDep) -> Response:
    return remember_channel(at.request, _offer_page(at))


@router.post("/c/{slug}/groupbuy/{activity_id}/open")
def open_team(slug: str, activity_id: Id, post: ParticipantPostDep) -> Response:
    try:
        team = post.run(
            lambda session: service.do_open_team(
                session, slug=slug, activity_id=activity_id, **post.rules()
            ),
            refused=_("Your request could not be accepted."),
            activity_id=activity_id,
        )
    except IM2Error as exc:
        return _offer_page(post.at(slug, activity_id), refusal=post.refusal(exc, slug=slug))
    return RedirectResponse(team.share_path + "?opened=1", status_code=303)


@router.get("/c/{slug}/groupbuy/{activity_id}/team/{code}")
def team_page(code: str, at: PageAtDep) -> Response:
    request = at.request
    notice = None
    if request.query_params.get("opened"):
        notice = _("Your team is open. Share the link so that friends can join!")
    elif request.query_params.get("joined"):
        notice = _("You have joined the team.")
    response = _team_page(
        at,
        code,
        notice=notice,
        fragment=request.headers.get("hx-request") == "true",  # the members' refresh
    )
    return remember_channel(request, response)


@router.post("/c/{slug}/groupbuy/{activity_id}/team/{code}/join")
def join_team(slug: str, activity_id: Id, code: str, post: ParticipantPostDep) -> Response:
    page = partial(_team_page, post.at(slug, activity_id), code)
    try:
        team = post.run(
            lambda session: service.do_join_team(
                session, slug=slug, activity_id=activity_id, code=code, **post.rules()
            ),
            refused=_("Your request could not be accepted."),
            activity_id=activity_id,
        )
    except IM2Error as exc:
        return page(refusal=post.refusal(exc, slug=slug), fragment=post.htmx)
    if post.htmx:
        return page(notice=_("You have joined the team."), fragment=True)
    return RedirectResponse(team.share_path + "?joined=1", status_code=303)
