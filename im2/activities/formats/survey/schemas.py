"""Request and response shapes of the survey format."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from im2.activities.schemas import GivesConsent, Text, Title
from im2.i18n import N_


class QuestionKind(StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"
    TEXT = "text"
    RATING = "rating"  # 1–5 stars
    NPS = "nps"  # 0–10, "how likely are you to recommend us"
    RANKING = "ranking"


KIND_NAMES = {
    QuestionKind.SINGLE: N_("Single choice"),
    QuestionKind.MULTIPLE: N_("Multiple choice"),
    QuestionKind.TEXT: N_("Free text"),
    QuestionKind.RATING: N_("Rating (1–5)"),
    QuestionKind.NPS: N_("NPS (0–10)"),
    QuestionKind.RANKING: N_("Ranking"),
}
WITH_OPTIONS = frozenset({QuestionKind.SINGLE, QuestionKind.MULTIPLE, QuestionKind.RANKING})
END = 0  # skip_to value that ends the survey

OptionLabel = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
QuestionText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)
]
# An answer as sent: an option id (single), option ids (multiple; ranking, best first),
# a number (rating, NPS) or text.
AnswerValue = int | list[int] | Annotated[str, StringConstraints(max_length=2000)]


class SurveyOptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: OptionLabel
    skip_to: int | None = Field(
        default=None, ge=0, description="single choice only: jump to this question; 0 ends"
    )


class SurveyQuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: QuestionKind
    text: QuestionText
    required: bool = False
    options: list[SurveyOptionIn] = Field(default_factory=list, max_length=20)


class SurveyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Text = ""
    questions: list[SurveyQuestionIn] = Field(min_length=1, max_length=50)


class AnswersIn(GivesConsent):
    model_config = ConfigDict(extra="forbid")

    answers: dict[int, AnswerValue] = Field(default_factory=dict, max_length=50)


class ProgressRead(BaseModel):
    activity_id: int
    answers: dict[int, AnswerValue]
    submitted: bool
    next_question_id: int | None


class SurveyOptionPublic(BaseModel):
    id: int
    label: str
    # Single choice only: the question position this option jumps to (0 ends the survey).
    skip_to: int | None


class SurveyQuestionPublic(BaseModel):
    id: int
    position: int
    kind: QuestionKind
    text: str
    required: bool
    options: list[SurveyOptionPublic]


class SurveyPublic(BaseModel):
    """A survey as one visitor sees it: its questions (with the skip rules, so an app can
    follow the route), this visitor's saved answers and where to continue."""

    activity_id: int
    title: str
    open: bool
    closed_reason: str | None
    questions: list[SurveyQuestionPublic]
    answers: dict[int, AnswerValue]
    submitted: bool
    next_question_id: int | None


class SubmissionReceipt(BaseModel):
    response_id: int
    activity_id: int
    submitted_at: datetime
    held_for_review: bool


class OptionCount(BaseModel):
    label: str
    count: int
    share: float


class RankRow(BaseModel):
    label: str
    average_rank: float
    first_places: int
    points: int  # Borda: n-1 points for first place … 0 for last


class NpsSummary(BaseModel):
    score: float  # % promoters − % detractors, −100..100
    promoters: int
    passives: int
    detractors: int


class QuestionSummary(BaseModel):
    id: int
    position: int
    kind: QuestionKind
    text: str
    required: bool
    answered: int
    options: list[OptionCount] = Field(default_factory=list)
    average: float | None = None
    nps: NpsSummary | None = None
    ranking: list[RankRow] = Field(default_factory=list)
    texts: list[str] = Field(default_factory=list)


class SurveySummary(BaseModel):
    activity_id: int
    title: str
    responses: int
    in_progress: int
    held: int
    questions: list[QuestionSummary]


class SurveyUpdate(BaseModel):
    """The texts can change at any time; questions stay as participants answered them."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Text | None = None
