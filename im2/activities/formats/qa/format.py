"""The live Q&A format's declaration (`im2.activities.protocol`): the shared console makes its
create, edit and export routes from it; the moderation page (its queue updates live) is its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from im2.activities.formats.declare import json_api, texts
from im2.activities.formats.qa import service
from im2.activities.formats.qa.demo import load_demo
from im2.activities.formats.qa.schemas import QaCreate, QaUpdate
from im2.activities.protocol import (
    ActivityFormat,
    CreateForm,
    Export,
    PeopleData,
    PublicAction,
)
from im2.activities.schemas import ENTRIES_HINT, ActivityKind
from im2.campaigns.schemas import CampaignRead


class QaSettings(BaseModel):
    """`Activity.settings` of a live Q&A."""

    model_config = ConfigDict(extra="forbid")

    premoderation: bool = False


def parse_form(raw: Mapping[str, str], campaign: CampaignRead) -> dict[str, Any]:
    return {
        **texts(raw),
        "premoderation": raw.get("premoderation") == "on",
    }


FORMAT = ActivityFormat(
    kind=ActivityKind.QA,
    settings=QaSettings,
    package=__package__ or "",
    people_data=(
        PeopleData(
            table="qa_questions",
            participant_columns=("participant_id",),
            personal_columns=("nickname", "text"),
        ),
        PeopleData(table="qa_upvotes", participant_columns=("participant_id",)),
    ),
    actions=(
        PublicAction(path="ask", summary="Ask a question"),
        PublicAction(path="questions/{question_id}/upvote", summary="Upvote a question"),
    ),
    create=CreateForm(
        template="activities/qa/qa_form.html",
        model=QaCreate,
        parse=parse_form,
        create=service.do_create_qa,
    ),
    export=Export(
        columns=tuple(service.EXPORT_COLUMNS),
        rows=service.export_rows,
        filename="qa-{id}-questions.csv",
    ),
    text_editor_hint=ENTRIES_HINT,
    api=json_api(
        "qas",
        (QaCreate, service.do_create_qa, "Add a live Q&A to a campaign"),
        (QaUpdate, service.do_update_qa, "Edit a live Q&A"),
        tag="qa",
    ),
    demo=load_demo,
)
