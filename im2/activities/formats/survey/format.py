"""The survey format's declaration (`im2.activities.protocol`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from im2.activities.formats.survey.demo import load_demo
from im2.activities.protocol import ActivityFormat, PeopleData
from im2.activities.schemas import ActivityKind


class SurveySettings(BaseModel):
    """`Activity.settings` of a survey (its questions are rows of their own)."""

    model_config = ConfigDict(extra="forbid")

    questions: int = 0


FORMAT = ActivityFormat(
    kind=ActivityKind.SURVEY,
    settings=SurveySettings,
    package=__package__ or "",
    people_data=(PeopleData(table="survey_responses", person_columns=("participant_id",)),),
    demo=load_demo,
)
