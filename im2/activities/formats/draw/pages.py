"""Console pages of lucky draws: add one (with draw-only prizes, or the campaign's prizes from the
incentives page, whose stock the draw then shares with the points store), watch entries and
winners, export."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from im2.activities import service as activities
from im2.activities.editing import add_text_editor
from im2.activities.formats.draw import reads, service
from im2.activities.formats.draw.schemas import MODE_LABELS, DrawCreate, DrawMode
from im2.activities.schemas import KIND_LABELS, ActivityKind
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignRead
from im2.errors import IM2Error
from im2.i18n import _
from im2.incentives import service as incentives
from im2.incentives.schemas import PrizeRef
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.downloads import csv_download
from im2.web.forms import service_error, validation_errors
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Permission
from im2.workspaces.service import require

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)
EXPORT_COLUMNS = [
    "entry_id",
    "participant_id",
    "entered_at",
    "prize",
    "won_at",
    "held_for_review",
    "risk_reasons",
]


def _form(
    request: Request,
    *,
    campaign: CampaignRead,
    shared: list[PrizeRef],
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "activities/draw/draw_form.html",
        {
            "campaign": campaign,
            "shared": shared,
            "values": values,
            "errors": errors,
            "modes": list(DrawMode),
            "mode_labels": MODE_LABELS,
            "nav": "campaigns",
        },
        status_code=status_code,
    )


SHARED_UNITS = re.compile(r"^shared_units_(\d{1,18})$")


def parse_shared(form: dict[str, str]) -> list[dict[str, Any]]:
    """The campaign prizes chosen for the draw, in the form's order: `shared_units_<prize id>`
    (units the draw may give; empty or 0 = not in the draw) and `shared_odds_<prize id>` (odds
    in %, instant win only). The service checks that each is a prize of this campaign."""
    prizes: list[dict[str, Any]] = []
    for key, units in form.items():
        found = SHARED_UNITS.match(key)
        if found is None or units.strip() in ("", "0"):
            continue
        odds = form.get(f"shared_odds_{found[1]}", "").strip().rstrip("%") or "0"
        try:
            odds_value: Any = float(odds) / 100
        except ValueError:
            odds_value = odds
        prizes.append({"prize_id": int(found[1]), "stock": units.strip(), "odds": odds_value})
    return prizes


def parse_prizes(text: str) -> list[dict[str, Any]]:
    """One prize a line: `name | stock | odds in %` (odds for instant win only)."""
    prizes: list[dict[str, Any]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        odds = parts[2].rstrip("%") if len(parts) > 2 and parts[2] else "0"
        try:
            odds_value: Any = float(odds) / 100
        except ValueError:
            odds_value = odds
        prizes.append(
            {"name": parts[0], "stock": parts[1] if len(parts) > 1 else "", "odds": odds_value}
        )
    return prizes


def parse_local(value: str, timezone: str) -> datetime | str | None:
    if not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=ZoneInfo(timezone))
    except ValueError:
        return value  # left for validation to refuse with a message


@router.get("/campaigns/{campaign_id}/draw/new")
def new_draw(request: Request, campaign_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    require(actor, Permission.WRITE_CAMPAIGNS)
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
        shared = incentives.list_prizes(
            session, workspace_id=actor.workspace_id, campaign_id=campaign_id
        )
    values = {"mode": DrawMode.INSTANT.value, "prizes": _("Coffee voucher | 50 | 10%")}
    return _form(request, campaign=campaign, shared=shared, values=values, errors={})


@router.post("/campaigns/{campaign_id}/draw")
def create_draw(
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
        shared = incentives.list_prizes(
            session, workspace_id=actor.workspace_id, campaign_id=campaign_id
        )
    payload = {
        "title": raw.get("title", ""),
        "description": raw.get("description", ""),
        "mode": raw.get("mode") or DrawMode.INSTANT.value,
        "draw_at": parse_local(raw.get("draw_at", ""), campaign.timezone),
        # The campaign's prizes first (usually the main prize), then the draw-only ones.
        "prizes": parse_shared(raw) + parse_prizes(raw.get("prizes", "")),
    }
    try:
        data = DrawCreate.model_validate(payload)
        with db.transaction() as session:
            created = service.do_create_draw(
                session, actor=actor, campaign_id=campaign_id, data=data, now=now
            )
    except ValidationError as exc:
        errors = {k.split(".")[0]: v for k, v in validation_errors(exc).items()}
        return _form(
            request,
            campaign=campaign,
            shared=shared,
            values=raw,
            errors=errors,
            status_code=422,
        )
    except IM2Error as exc:
        return _form(
            request,
            campaign=campaign,
            shared=shared,
            values=raw,
            errors=service_error(exc),
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/console/w/{actor.workspace_slug}/draw/{created.id}", status_code=303)


@router.get("/draw/{activity_id}")
def detail(request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    with db.session() as session:
        results = reads.draw_results(session, actor=actor, activity_id=activity_id)
        held = reads.list_held(session, actor=actor, activity_id=activity_id)
        activity = activities.get_activity(session, actor=actor, activity_id=activity_id)
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=activity.campaign_id)
    base_url = request.app.state.settings.base_url
    return render(
        request,
        "activities/draw/detail.html",
        {
            "activity": activity,
            "campaign": campaign,
            "results": results,
            "held": held,
            "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
            "kind_labels": KIND_LABELS,
            "mode_labels": MODE_LABELS,
            "public_url": f"{base_url}/c/{campaign.slug}/draw/{activity.id}",
            "nav": "campaigns",
        },
    )


@router.post("/draw/{activity_id}/review/{entry_id}")
def review(
    activity_id: Id,
    entry_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    with db.transaction() as session:
        service.do_review_entry(
            session,
            actor=actor,
            activity_id=activity_id,
            entry_id=entry_id,
            approve=form.get("decision") == "approve",
            now=now,
        )
    return RedirectResponse(
        f"/console/w/{actor.workspace_slug}/draw/{activity_id}", status_code=303
    )


add_text_editor(router, ActivityKind.DRAW)


@router.get("/draw/{activity_id}/export.csv")
def export_csv(activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    with db.session() as session:
        rows = list(reads.export_draw(session, actor=actor, activity_id=activity_id))
    return csv_download(rows, columns=EXPORT_COLUMNS, filename=f"draw-{activity_id}-entries.csv")
