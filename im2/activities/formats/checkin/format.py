"""The daily check-in format's declaration (`im2.activities.protocol`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from im2.activities.formats.checkin import service
from im2.activities.formats.checkin.demo import load_demo
from im2.activities.formats.checkin.schemas import CheckinCreate, CheckinUpdate
from im2.activities.formats.declare import Shown, detail_page, json_api, texts
from im2.activities.protocol import (
    ActivityFormat,
    CreateForm,
    Export,
    PeopleData,
    PublicAction,
)
from im2.activities.schemas import ActivityKind
from im2.campaigns.schemas import CampaignRead


class CheckinSettings(BaseModel):
    """`Activity.settings` of a check-in."""

    model_config = ConfigDict(extra="forbid")

    milestones: list[int] = []


def parse_milestones(text: str) -> list[Any]:
    parts = [p.strip() for p in text.replace("，", ",").split(",") if p.strip()]
    return [int(p) if p.isdigit() else p for p in parts]


def parse_form(raw: Mapping[str, str], campaign: CampaignRead) -> dict[str, Any]:
    return {
        **texts(raw),
        "milestones": parse_milestones(raw.get("milestones", "")),
    }


def detail_context(shown: Shown) -> dict[str, Any]:
    return {
        "stats": shown.read(service.checkin_stats, campaign=shown.campaign, now=shown.now),
        "held": shown.read(service.list_held),
    }


FORMAT = ActivityFormat(
    kind=ActivityKind.CHECKIN,
    settings=CheckinSettings,
    package=__package__ or "",
    people_data=(PeopleData(table="checkin_days", participant_columns=("participant_id",)),),
    actions=(PublicAction(path="check-in", summary="Check in for today"),),
    create=CreateForm(
        template="activities/checkin/checkin_form.html",
        model=CheckinCreate,
        parse=parse_form,
        create=service.do_create_checkin,
        defaults={"milestones": "3, 7, 14"},
    ),
    detail=detail_page("activities/checkin/detail.html", detail_context),
    export=Export(
        columns=(
            "participant_id",
            "day",
            "streak",
            "checked_in_at",
            "held_for_review",
            "risk_reasons",
        ),
        rows=service.export_checkins,
        filename="checkin-{id}-days.csv",
    ),
    api=json_api(
        "checkins",
        (
            CheckinCreate,
            service.do_create_checkin,
            "Add a daily check-in with streak milestones to a campaign",
        ),
        (CheckinUpdate, service.do_update_checkin, "Edit the texts or milestones"),
    ),
    demo=load_demo,
)
