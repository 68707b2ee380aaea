"""The group-buy format's declaration (`im2.activities.protocol`): the shared console makes its
create, detail, edit and export routes from it; its public offer and team pages are its own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from im2.activities.formats.declare import Shown, detail_page, json_api
from im2.activities.formats.groupbuy import reads, service
from im2.activities.formats.groupbuy.demo import load_demo
from im2.activities.formats.groupbuy.schemas import (
    STATUS_LABELS,
    GroupbuyCreate,
    GroupbuyUpdate,
    Offer,
)
from im2.activities.protocol import (
    ActivityFormat,
    CreateForm,
    Export,
    PeopleData,
    PublicAction,
)
from im2.activities.schemas import ActivityKind
from im2.campaigns.schemas import CampaignRead

FIELDS = ("title", "description", "product", "price", "original_price", "team_size", "hours")


def parse_form(raw: Mapping[str, str], campaign: CampaignRead) -> dict[str, Any]:
    return {name: raw.get(name, "").strip() for name in FIELDS}


def detail_context(shown: Shown) -> dict[str, Any]:
    return {
        "stats": shown.read(reads.groupbuy_stats, now=shown.now),
        "status_labels": STATUS_LABELS,
    }


FORMAT = ActivityFormat(
    kind=ActivityKind.GROUPBUY,
    settings=Offer,
    package=__package__ or "",
    routes=("api", "public"),
    people_data=(
        PeopleData(table="groupbuy_teams", participant_columns=("leader_id",)),
        PeopleData(table="groupbuy_members", participant_columns=("participant_id",)),
    ),
    actions=(
        PublicAction(path="open", summary="Open a team"),
        PublicAction(path="team/{code}/join", summary="Join a team through its link"),
    ),
    create=CreateForm(
        template="activities/groupbuy/groupbuy_form.html",
        model=GroupbuyCreate,
        parse=parse_form,
        create=service.do_create_groupbuy,
        defaults={"team_size": "3", "hours": "24"},
    ),
    detail=detail_page("activities/groupbuy/detail.html", detail_context),
    export=Export(
        columns=(
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
        ),
        rows_at=reads.export_members,
        filename="groupbuy-{id}-members.csv",
    ),
    text_editor_hint="",
    api=json_api(
        "groupbuys",
        (
            GroupbuyCreate,
            service.do_create_groupbuy,
            "Add a group-buy offer (N members within T hours) to a campaign",
        ),
        (GroupbuyUpdate, service.do_update_groupbuy, "Edit the texts"),
    ),
    demo=load_demo,
)
