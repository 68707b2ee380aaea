"""Console page of a campaign's conversions: the orders with their touches, and revenue and ROI
as the analytics registry computes them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from im2.campaigns import service as campaigns
from im2.campaigns.figures import FiguresDep
from im2.campaigns.schemas import MEDIA_LABELS
from im2.conversions import service
from im2.web.deps import ConsoleActor, DbDep, NowDep, SettingsDep
from im2.web.params import Id
from im2.web.templating import render

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)
FIGURES = ["conversions", "revenue", "roi", "conversion_rate", "media_breakdown"]
PAGE = 200


@router.get("/campaigns/{campaign_id}/conversions")
def conversions_page(
    request: Request,
    campaign_id: Id,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    reader: FiguresDep,
) -> Response:
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
        page = service.list_conversions(session, actor=actor, campaign_id=campaign.id, limit=PAGE)
        figures = reader.read(
            session,
            actor=actor,
            campaign_id=campaign.id,
            keys=FIGURES,
            lake_path=settings.lake_path,
            now=now,
        )
    budget = sum(c.budget or 0.0 for c in campaign.channels)
    return render(
        request,
        "conversions/campaign.html",
        {
            "campaign": campaign,
            "conversions": page.items,
            "more": page.next_cursor is not None,
            "figures": figures,
            "budget": budget,
            "currency": service.reporting_currency(campaign),
            "media_labels": {m.value: label for m, label in MEDIA_LABELS.items()},
            "nav": "campaigns",
        },
    )
