"""The daily check-in format, as the activity registry sees it (see
`im2.activities.protocol`). Its console and public routes are still its own (`pages.py`,
`public.py`, `api.py`); only the declarations below are shared."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from im2.activities.formats.checkin.demo import load_demo
from im2.activities.protocol import ActivityFormat, PeopleData
from im2.activities.schemas import KIND_LABELS, ActivityKind


class CheckinSettings(BaseModel):
    """`Activity.settings` of a check-in."""

    model_config = ConfigDict(extra="forbid")

    milestones: list[int] = []


FORMAT = ActivityFormat(
    kind=ActivityKind.CHECKIN,
    label=KIND_LABELS[ActivityKind.CHECKIN],
    settings=CheckinSettings,
    package=__package__ or "",
    people_data=(PeopleData(table="checkin_days", person_columns=("participant_id",)),),
    demo=load_demo,
)
