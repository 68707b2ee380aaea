"""The live Q&A format's declaration (`im2.activities.protocol`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from im2.activities.formats.qa.demo import load_demo
from im2.activities.protocol import ActivityFormat, PeopleData
from im2.activities.schemas import ActivityKind


class QaSettings(BaseModel):
    """`Activity.settings` of a live Q&A."""

    model_config = ConfigDict(extra="forbid")

    premoderation: bool = False


FORMAT = ActivityFormat(
    kind=ActivityKind.QA,
    settings=QaSettings,
    package=__package__ or "",
    people_data=(
        PeopleData(
            table="qa_questions",
            person_columns=("participant_id",),
            personal_columns=("nickname", "text"),
        ),
        PeopleData(table="qa_upvotes", person_columns=("participant_id",)),
    ),
    demo=load_demo,
)
