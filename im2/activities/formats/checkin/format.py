"""The daily check-in format's declaration (`im2.activities.protocol`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from im2.activities.formats.checkin import service
from im2.activities.formats.checkin.demo import load_demo
from im2.activities.formats.checkin.schemas import CheckinCreate, CheckinUpdate
from im2.activities.protocol import (
    ActivityFormat,
    Api,
    CreateForm,
    DetailPage,
    Export,
    PeopleData,
    PublicAction,
)
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.campaigns.schemas import CampaignRead
from im2.workspaces.schemas import Actor


class CheckinSettings(BaseModel):
    """`Activity.settings` of a check-in."""

    model_config = ConfigDict(extra="forbid")

    milestones: list[int] = []


def parse_milestones(text: str) -> list[Any]:
    parts = [p.strip() for p in text.replace("，", ",").split(",") if p.strip()]
    return [int(p) if p.isdigit() else p for p in parts]


def parse_form(raw: Mapping[str, str], campaign: CampaignRead) -> dict[str, Any]:
    return {
        "title": raw.get("title", ""),
        "description": raw.get("description", ""),
        "milestones": parse_milestones(raw.get("milestones", "")),
    }


def detail_context(
    session: Session,
    *,
    actor: Actor,
    activity: ActivityRead,
    campaign: CampaignRead,
    now: datetime,
) -> dict[str, Any]:
    return {
        "stats": service.checkin_stats(
            session, actor=actor, activity_id=activity.id, campaign=campaign, now=now
        ),
        "held": service.list_held(session, actor=actor, activity_id=activity.id),
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
    detail=DetailPage(template="activities/checkin/detail.html", context=detail_context),
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
    api=Api(
        plural="checkins",
        tag="checkins",
        create_model=CheckinCreate,
        create=service.do_create_checkin,
        create_summary="Add a daily check-in with streak milestones to a campaign",
        update_model=CheckinUpdate,
        update=service.do_update_checkin,
        update_summary="Edit the texts or milestones",
    ),
    demo=load_demo,
)
