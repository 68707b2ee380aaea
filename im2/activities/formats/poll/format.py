"""The poll format, as the activity registry sees it (see `im2.activities.protocol`): the
shared console makes its create, detail, edit and export routes from this, the shared public
frame its page (`public.py`); what is left in the package is the poll's own rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from im2.activities.formats.declare import Shown, detail_page, json_api, texts
from im2.activities.formats.poll import service
from im2.activities.formats.poll.demo import load_demo
from im2.activities.formats.poll.schemas import (
    VISIBILITY_LABELS,
    PollCreate,
    PollResults,
    PollSettings,
    PollUpdate,
    ResultsVisibility,
    VoteLimit,
)
from im2.activities.protocol import (
    ActivityFormat,
    CreateForm,
    Export,
    PeopleData,
    PublicAction,
)
from im2.activities.schemas import OPTIONS_HINT, ActivityKind
from im2.campaigns.schemas import CampaignRead


def parse_form(raw: Mapping[str, str], campaign: CampaignRead) -> dict[str, Any]:
    """The console's create form as `PollCreate` input: one option per line."""
    lines = [line.strip() for line in raw.get("options", "").splitlines() if line.strip()]
    return {
        **texts(raw),
        "options": [{"label": line} for line in lines],
        "multiple": raw.get("multiple") == "on",
        "max_choices": raw.get("max_choices") or 1,
        "vote_limit": VoteLimit.DAILY.value if raw.get("vote_limit") == "daily" else "once",
        "votes_per_day": raw.get("votes_per_day") or 1,
        "results": raw.get("results") or ResultsVisibility.AFTER_VOTE.value,
    }


def detail_context(shown: Shown) -> dict[str, Any]:
    return {
        "results": shown.read(service.poll_results),
        "held": shown.read(service.list_held),
        "settings": service.settings_of(shown.activity),
        "visibility_labels": VISIBILITY_LABELS,
    }


FORMAT = ActivityFormat(
    kind=ActivityKind.POLL,
    settings=PollSettings,
    package=__package__ or "",
    people_data=(
        PeopleData(table="poll_ballots", participant_columns=("participant_id",)),
        # What a ballot chose: the person's through their ballot.
        PeopleData(table="poll_choices", via="ballot_id->poll_ballots.id"),
    ),
    actions=(PublicAction(path="vote", summary="Vote for one or more options"),),
    results=PollResults,
    create=CreateForm(
        template="activities/poll/poll_form.html",
        model=PollCreate,
        parse=parse_form,
        create=service.do_create_poll,
        defaults={
            "results": ResultsVisibility.AFTER_VOTE.value,
            "vote_limit": VoteLimit.ONCE.value,
            "max_choices": "1",
        },
        context={"visibilities": list(ResultsVisibility), "visibility_labels": VISIBILITY_LABELS},
    ),
    detail=detail_page("activities/poll/detail.html", detail_context),
    export=Export(
        columns=(
            "ballot_id",
            "participant_id",
            "voted_at",
            "day",
            "option_id",
            "option",
            "held_for_review",
            "risk_reasons",
        ),
        rows=service.export_poll,
        filename="poll-{id}-votes.csv",
    ),
    text_editor_hint=OPTIONS_HINT,
    api=json_api(
        "polls",
        (PollCreate, service.do_create_poll, "Add a poll to a campaign"),
        (PollUpdate, service.do_update_poll, "Edit a poll"),
    ),
    demo=load_demo,
)
