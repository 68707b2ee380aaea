"""Public participant pages shared by all formats: the campaign's landing page at
/c/<campaign-slug>; each format's own pages come from its package (/c/<slug>/<kind>/<id>)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from im2.activities import service
from im2.activities.formats import format_modules
from im2.activities.schemas import KIND_LABELS
from im2.experiments.hook import experiment_hook
from im2.participation import comments
from im2.participation.schemas import CONSENT_TEXT
from im2.web.deps import DbDep, remember_channel
from im2.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/c/{slug}")
def campaign_page(request: Request, slug: str, db: DbDep) -> Response:
    device_id = getattr(request.state, "device_id", "") or ""
    with db.session() as session:
        public = service.get_public_campaign(session, slug=slug)
        joined = service.participant_for(session, public=public, device_id=device_id) is not None
        thread = comments.list_comments(
            session, target_type="campaign", target_id=public.campaign.id
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
            "consent_text": CONSENT_TEXT,
        },
    )
    return remember_channel(request, response)


@router.get("/c/{slug}/a/{activity_id}")
def activity_page(request: Request, slug: str, activity_id: int, db: DbDep) -> Response:
    """A short, format-free link to any activity (for posters and QR codes)."""
    with db.session() as session:
        _public, row = service.public_activity(session, slug=slug, activity_id=activity_id)
        kind = row.kind
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/c/{slug}/{kind}/{activity_id}{query}", status_code=307)


for _module in format_modules("public"):
    # A running experiment on the activity shows the visitor their variant (experiments.hook).
    router.include_router(_module.router, dependencies=[Depends(experiment_hook)])
