"""Request and response shapes of the quiz / prediction format."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from im2.activities.schemas import GivesConsent, Text, Title
from im2.i18n import N_
from im2.types import DbId


class QuizMode(StrEnum):
    QUIZ = "quiz"  # correct answers known up front, scored at once
    PREDICTION = "prediction"  # 竞猜: scored when the brand enters the outcome


MODE_LABELS = {
    QuizMode.QUIZ: N_("Quiz: answers are scored at once"),
    QuizMode.PREDICTION: N_("Prediction: scored when you enter the outcome"),
}

OptionLabel = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
QuestionText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)
]
Nickname = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)]


class QuizQuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: QuestionText
    options: list[OptionLabel] = Field(min_length=2, max_length=10)
    correct: int | None = Field(default=None, ge=0, description="index of the correct option")
    points: int = Field(default=10, ge=1, le=1000)


class QuizCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Text = ""
    mode: QuizMode = QuizMode.QUIZ
    questions: list[QuizQuestionIn] = Field(min_length=1, max_length=50)
    time_bonus: bool = False
    bonus_seconds: int = Field(default=20, ge=3, le=600)
    closes_at: datetime | None = Field(
        default=None,
        description="no answers from then on (without a zone: the campaign's local time)",
    )


class AnswerIn(GivesConsent):
    model_config = ConfigDict(extra="forbid")

    question_id: DbId
    option_id: DbId
    nickname: Nickname | None = None


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    option_id: DbId


class OptionStat(BaseModel):
    id: int
    label: str
    answers: int
    share: float
    correct: bool


class QuestionStat(BaseModel):
    id: int
    position: int
    text: str
    points: int
    settled: bool
    correct_option_id: int | None
    closes_at: datetime | None
    answers: int
    options: list[OptionStat]


class QuizResults(BaseModel):
    activity_id: int
    title: str
    mode: QuizMode
    players: int
    held: int
    questions: list[QuestionStat]


class LeaderRow(BaseModel):
    rank: int
    participant_id: int
    name: str
    score: int
    correct: int
    answered: int
    finished_at: datetime


class Leaderboard(BaseModel):
    activity_id: int
    title: str
    rows: list[LeaderRow]
    mine: LeaderRow | None = None


class QuestionPublic(BaseModel):
    id: int
    position: int
    text: str
    points: int
    options: list[tuple[int, str]]
    settled: bool
    closed: bool
    my_option_id: int | None
    my_points: int | None
    my_correct: bool | None
    # Shown once this person has answered a quiz question, or once a prediction is settled.
    correct_option_id: int | None


class QuizState(BaseModel):
    activity_id: int
    title: str
    mode: QuizMode
    open: bool
    closed_reason: str | None
    # With a time bonus, only the questions answered so far and the current one: reading
    # ahead would let a player prepare before the clock starts.
    questions: list[QuestionPublic]
    total: int
    current_question_id: int | None
    score: int


class AnswerReceipt(BaseModel):
    answer_id: int
    question_id: int
    option_id: int
    correct: bool | None
    correct_option_id: int | None
    points: int
    score: int
    held_for_review: bool


class SettleReceipt(BaseModel):
    question_id: int
    correct_option_id: int
    answers: int
    winners: int
    changed: bool


class QuizUpdate(BaseModel):
    """The texts can change at any time; questions stay as participants answered them."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Text | None = None
