"""Public participant pages shared by all formats: the campaign's landing page at
/c/<campaign-slug>; each format's own pages come from its package (/c/<slug>/<kind>/<id>)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from im2.activities import service
from im2.activities.schemas import KIND_LABELS
from im2.errors import NotFound
from im2.events.schemas import EventKind
from im2.participation import comments
from im2.participation.schemas import CONSENT_TEXT
from im2.web import page_views
from im2.web.deps import DbDep, remember_channel
from im2.web.params import Id
from im2.web.participant_forms import consent_box_values
from im2.web.templating import render

router = APIRouter(include_in_schema=False)
# An activity's own page; its sub-pages (big screen, presenter view, lists, leaderboards, team
# boxes refreshed by HTMX) are not views of it.
ACTIVITY_PAGE = re.compile(r"^/c/([^/]+)/([a-z_]+)/(\d+)$")


@router.get("/c/{slug}")
def campaign_page(request: Request, slug: str, db: DbDep) -> Response:
    device_id = getattr(request.state, "device_id", "") or ""
    with db.session() as session:
        public = service.get_public_campaign(session, slug=slug)
        joined = service.participant_for(session, public=public, device_id=device_id) is not None
        # The comment form's consent box: the brand's text and the hash its form posts back.
        box = (
            {"consent_text": CONSENT_TEXT}
            if joined
            else consent_box_values(
                request, session, workspace_id=public.workspace_id, campaign=public.campaign
            )
        )
        thread = comments.list_comments(
            session, target_type="campaign", target_id=public.campaign.id
        )
    # Written by the group commit while the page renders.
    view = page_views.submit_view(
        request,
        kind=EventKind.CAMPAIGN_VIEWED,
        workspace_id=public.workspace_id,
        campaign_id=public.campaign.id,
    )
    response = render(
        request,
        "activities/public_campaign.html",
        {
            "public": public,
            "closed_reason": service.closed_reason(public.campaign),
            "kind_labels": KIND_LABELS,
            "comments": thread,
            "target_type": "campaign",
            "target_id": public.campaign.id,
            "slug": slug,
            "back": f"/c/{slug}",
            "needs_consent": not joined,
            **box,
        },
    )
    page_views.settle(view)
    if request.cookies.get(page_views.VIA_COOKIE):
        response.delete_cookie(page_views.VIA_COOKIE)  # the share link's landing is counted
    return remember_channel(request, response)


def activity_view_hook(request: Request, db: DbDep) -> Iterator[None]:
    """Records `activity.viewed` for the GET of an activity's page (`ACTIVITY_PAGE`) of a
    public campaign; the page renders while the group commit writes it."""
    match = ACTIVITY_PAGE.match(request.url.path)
    view = None
    if match is not None and page_views.is_view(request):
        slug, kind, activity_id = match.group(1), match.group(2), int(match.group(3))
        public = None
        try:
            with db.session() as session:
                found, row = service.public_activity(session, slug=slug, activity_id=activity_id)
                if row.kind == kind:
                    public = found
        except NotFound:
            pass  # the page answers 404 itself
        if public is not None:
            view = page_views.submit_view(
                request,
                kind=EventKind.ACTIVITY_VIEWED,
                workspace_id=public.workspace_id,
                campaign_id=public.campaign.id,
                activity_id=activity_id,
            )
    try:
        yield
    finally:
        page_views.settle(view)


@router.get("/c/{slug}/a/{activity_id}")
def activity_page(request: Request, slug: str, activity_id: Id, db: DbDep) -> Response:
    """A short, format-free link to any activity (for posters and QR codes)."""
    with db.session() as session:
        _public, row = service.public_activity(session, slug=slug, activity_id=activity_id)
        kind = row.kind
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/c/{slug}/{kind}/{activity_id}{query}", status_code=307)
