"""Console pages of group-buys: add an offer, follow its teams, export the members."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from im2.activities import service as activities
from im2.activities.editing import add_text_editor
from im2.activities.formats.groupbuy import reads, service
from im2.activities.formats.groupbuy.schemas import STATUS_LABELS, GroupbuyCreate
from im2.activities.schemas import KIND_LABELS, ActivityKind
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignRead
from im2.errors import IM2Error
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.downloads import csv_download
from im2.web.forms import service_error, validation_errors
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Permission
from im2.workspaces.service import require

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)
FIELDS = ("title", "description", "product", "price", "original_price", "team_size", "hours")
EXPORT_COLUMNS = [
    "team",
    "team_status",
    "participant_id",
    "leader",
    "joined_at",
    "team_size",
    "team_members",
    "expires_at",
    "held_for_review",
    "risk_reasons",
]


def _form(
    request: Request,
    *,
    campaign: CampaignRead,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "activities/groupbuy/groupbuy_form.html",
        {"campaign": campaign, "values": values, "errors": errors, "nav": "campaigns"},
        status_code=status_code,
    )


@router.get("/campaigns/{campaign_id}/groupbuy/new")
def new_groupbuy(request: Request, campaign_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    require(actor, Permission.WRITE_CAMPAIGNS)
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    return _form(request, campaign=campaign, values={"team_size": "3", "hours": "24"}, errors={})


@router.post("/campaigns/{campaign_id}/groupbuy")
def create_groupbuy(
    request: Request,
    campaign_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    require(actor, Permission.WRITE_CAMPAIGNS)
    raw = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    payload = {name: raw.get(name, "").strip() for name in FIELDS}
    try:
        data = GroupbuyCreate.model_validate(payload)
        with db.transaction() as session:
            created = service.do_create_groupbuy(
                session, actor=actor, campaign_id=campaign_id, data=data, now=now
            )
    except ValidationError as exc:
        errors = {k.split(".")[0]: v for k, v in validation_errors(exc).items()}
        return _form(request, campaign=campaign, values=raw, errors=errors, status_code=422)
    except IM2Error as exc:
        return _form(
            request,
            campaign=campaign,
            values=raw,
            errors=service_error(exc),
            status_code=exc.status_code,
        )
    return RedirectResponse(
        f"/console/w/{actor.workspace_slug}/groupbuy/{created.id}", status_code=303
    )


@router.get("/groupbuy/{activity_id}")
def detail(
    request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    with db.session() as session:
        stats = reads.groupbuy_stats(session, actor=actor, activity_id=activity_id, now=now)
        activity = activities.get_activity(session, actor=actor, activity_id=activity_id)
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=activity.campaign_id)
    base_url = request.app.state.settings.base_url
    return render(
        request,
        "activities/groupbuy/detail.html",
        {
            "activity": activity,
            "campaign": campaign,
            "stats": stats,
            "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
            "kind_labels": KIND_LABELS,
            "status_labels": STATUS_LABELS,
            "public_url": f"{base_url}/c/{campaign.slug}/groupbuy/{activity.id}",
            "nav": "campaigns",
        },
    )


add_text_editor(router, ActivityKind.GROUPBUY)


@router.get("/groupbuy/{activity_id}/export.csv")
def export_csv(activity_id: Id, actor: ConsoleActor, db: DbDep, now: NowDep) -> Response:
    with db.session() as session:
        rows = list(reads.export_members(session, actor=actor, activity_id=activity_id, now=now))
    return csv_download(
        rows, columns=EXPORT_COLUMNS, filename=f"groupbuy-{activity_id}-members.csv"
    )
