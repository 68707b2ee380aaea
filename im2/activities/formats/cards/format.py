"""集卡 (collect the set): its declaration (`im2.activities.protocol`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from im2.activities.formats.cards import service
from im2.activities.formats.cards.demo import load_demo
from im2.activities.formats.cards.schemas import CardsCreate, CardsResults, CardsSettings
from im2.activities.formats.declare import Shown, detail_page, texts
from im2.activities.protocol import (
    ActivityFormat,
    CreateForm,
    Export,
    PeopleData,
    PublicAction,
)
from im2.activities.schemas import ActivityKind
from im2.campaigns.schemas import CampaignRead

# "name, weight" (or "name weight"); full-width commas too.
CARD_LINE = re.compile(r"^(?P<name>.+?)[\s,，、]+(?P<weight>\d+)$")


def parse_cards(text: str) -> list[dict[str, Any]]:
    """One card a line, "name, weight"; a line without a weight weighs 1. Keys are c1, c2, …
    in order, so the published odds and the export name each card the same way."""
    cards: list[dict[str, Any]] = []
    for line in (raw.strip() for raw in text.splitlines()):
        if not line:
            continue
        found = CARD_LINE.match(line)
        name, weight = (found["name"].strip(), int(found["weight"])) if found else (line, 1)
        cards.append({"key": f"c{len(cards) + 1}", "name": name, "weight": weight})
    return cards


def parse_form(raw: Mapping[str, str], campaign: CampaignRead) -> dict[str, Any]:
    return {
        **texts(raw),
        "cards": parse_cards(raw.get("cards", "")),
        "set_points": raw.get("set_points", "") or "0",
        "gift_hours": raw.get("gift_hours", "") or "0",
    }


def detail_context(shown: Shown) -> dict[str, Any]:
    settings = CardsSettings.model_validate(shown.activity.settings)
    return {
        "results": shown.read(service.cards_results),
        "odds": service.published_odds(settings),
        "set_points": settings.set_points,
        "gift_hours": settings.gift_hours,
    }


FORMAT = ActivityFormat(
    kind=ActivityKind.CARDS,
    settings=CardsSettings,
    package=__package__ or "",
    routes=("api", "public"),
    people_data=(
        PeopleData(table="card_items", participant_columns=("owner_id", "drawn_by_id")),
        PeopleData(
            table="card_gifts",
            participant_columns=("giver_id", "claimed_by_id"),
            code_columns=("share_code",),
            identity_columns=("code",),
        ),
        PeopleData(table="card_sets", participant_columns=("participant_id",)),
    ),
    actions=(
        PublicAction(path="gift", summary="Give one of your cards to a friend through a link"),
        PublicAction(path="claim", summary="Take a card a friend gave you"),
    ),
    results=CardsResults,
    create=CreateForm(
        template="activities/cards/cards_form.html",
        model=CardsCreate,
        parse=parse_form,
        create=service.do_create_cards,
        defaults={
            "cards": "爱国福, 30\n富强福, 30\n和谐福, 25\n友善福, 14\n敬业福, 1",
            "set_points": "100",
            "gift_hours": "72",
        },
    ),
    detail=detail_page("activities/cards/detail.html", detail_context),
    export=Export(
        columns=service.EXPORT_COLUMNS,
        rows=service.export_cards,
        filename="cards-{id}-cards.csv",
    ),
    demo=load_demo,
)
