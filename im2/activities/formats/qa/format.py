"""The live Q&A format, as the activity registry sees it (see
`im2.activities.protocol`). Its console and public routes are still its own (`pages.py`,
`public.py`, `api.py`); only the declarations below are shared."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from im2.activities.formats.qa.demo import load_demo
from im2.activities.protocol import ActivityFormat, PeopleData
from im2.activities.schemas import KIND_LABELS, ActivityKind


class QaSettings(BaseModel):
    """`Activity.settings` of a live Q&A."""

    model_config = ConfigDict(extra="forbid")

    premoderation: bool = False


FORMAT = ActivityFormat(
    kind=ActivityKind.QA,
    label=KIND_LABELS[ActivityKind.QA],
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
