"""The lucky draw format's declaration (`im2.activities.protocol`): the shared console makes its
create, detail, edit and export routes from it; its page and the review of held entries are its
own."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from im2.activities.formats.declare import Shown, detail_page, json_api, texts
from im2.activities.formats.draw import reads, service
from im2.activities.formats.draw.demo import load_demo
from im2.activities.formats.draw.schemas import MODE_LABELS, DrawCreate, DrawMode, DrawUpdate
from im2.activities.protocol import (
    ActivityFormat,
    CreateForm,
    Export,
    PeopleData,
    PublicAction,
)
from im2.activities.schemas import ActivityKind
from im2.campaigns.schemas import CampaignRead
from im2.i18n import _
from im2.incentives import service as incentives
from im2.workspaces.schemas import Actor


class DrawSettings(BaseModel):
    """`Activity.settings` of a lucky draw (its prizes and seed are rows of their own)."""

    model_config = ConfigDict(extra="forbid")

    mode: DrawMode = DrawMode.INSTANT


SHARED_UNITS = re.compile(r"^shared_units_(\d{1,18})$")


def parse_shared(form: Mapping[str, str]) -> list[dict[str, Any]]:
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


def parse_form(raw: Mapping[str, str], campaign: CampaignRead) -> dict[str, Any]:
    return {
        **texts(raw),
        "mode": raw.get("mode") or DrawMode.INSTANT.value,
        "draw_at": parse_local(raw.get("draw_at", ""), campaign.timezone),
        # The campaign's prizes first (usually the main prize), then the draw-only ones.
        "prizes": parse_shared(raw) + parse_prizes(raw.get("prizes", "")),
    }


def form_context(session: Session, *, actor: Actor, campaign: CampaignRead) -> dict[str, Any]:
    """The campaign's own prizes, which a draw may give some units of."""
    shared = incentives.list_prizes(
        session, workspace_id=actor.workspace_id, campaign_id=campaign.id
    )
    return {"shared": shared}


def detail_context(shown: Shown) -> dict[str, Any]:
    return {
        "results": shown.read(reads.draw_results),
        "held": shown.read(reads.list_held),
        "mode_labels": MODE_LABELS,
    }


FORMAT = ActivityFormat(
    kind=ActivityKind.DRAW,
    settings=DrawSettings,
    package=__package__ or "",
    people_data=(PeopleData(table="draw_entries", participant_columns=("participant_id",)),),
    actions=(PublicAction(path="enter", summary="Enter the draw"),),
    create=CreateForm(
        template="activities/draw/draw_form.html",
        model=DrawCreate,
        parse=parse_form,
        create=service.do_create_draw,
        defaults=lambda: {
            "mode": DrawMode.INSTANT.value,
            "prizes": _("Coffee voucher | 50 | 10%"),
        },
        context={"modes": list(DrawMode), "mode_labels": MODE_LABELS},
        campaign_context=form_context,
    ),
    detail=detail_page("activities/draw/detail.html", detail_context),
    export=Export(
        columns=(
            "entry_id",
            "participant_id",
            "entered_at",
            "prize",
            "won_at",
            "held_for_review",
            "risk_reasons",
        ),
        rows=reads.export_draw,
        filename="draw-{id}-entries.csv",
    ),
    text_editor_hint="",
    api=json_api(
        "draws",
        (
            DrawCreate,
            service.do_create_draw,
            "Add a lucky draw (instant win or scheduled) to a campaign",
        ),
        (DrawUpdate, service.do_update_draw, "Edit the texts"),
    ),
    demo=load_demo,
)
