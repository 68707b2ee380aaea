"""The quiz and prediction format's declaration (`im2.activities.protocol`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from im2.activities.formats.quiz.demo import load_demo
from im2.activities.formats.quiz.schemas import QuizMode
from im2.activities.protocol import ActivityFormat, PeopleData
from im2.activities.schemas import ActivityKind


class QuizSettings(BaseModel):
    """`Activity.settings` of a quiz or prediction."""

    model_config = ConfigDict(extra="forbid")

    mode: QuizMode = QuizMode.QUIZ
    time_bonus: bool = False
    bonus_seconds: int = 20
    closes_at: str | None = None


FORMAT = ActivityFormat(
    kind=ActivityKind.QUIZ,
    settings=QuizSettings,
    package=__package__ or "",
    people_data=(
        PeopleData(table="quiz_shown", device_columns=("device_id",)),
        PeopleData(
            table="quiz_entries", person_columns=("participant_id",), personal_columns=("nickname",)
        ),
        PeopleData(table="quiz_answers", person_columns=("participant_id",)),
    ),
    demo=load_demo,
)
