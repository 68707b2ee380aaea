"""The lucky draw format's declaration (`im2.activities.protocol`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from im2.activities.formats.draw.demo import load_demo
from im2.activities.formats.draw.schemas import DrawMode
from im2.activities.protocol import ActivityFormat, PeopleData
from im2.activities.schemas import ActivityKind


class DrawSettings(BaseModel):
    """`Activity.settings` of a lucky draw (its prizes and seed are rows of their own)."""

    model_config = ConfigDict(extra="forbid")

    mode: DrawMode = DrawMode.INSTANT


FORMAT = ActivityFormat(
    kind=ActivityKind.DRAW,
    settings=DrawSettings,
    package=__package__ or "",
    people_data=(PeopleData(table="draw_entries", person_columns=("participant_id",)),),
    demo=load_demo,
)
