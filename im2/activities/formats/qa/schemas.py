"""Request and response shapes of the live Q&A format."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from im2.activities.schemas import GivesConsent, Text, Title
from im2.i18n import N_


class QuestionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    HIDDEN = "hidden"


STATUS_LABELS = {
    QuestionStatus.PENDING: N_("Waiting for review"),
    QuestionStatus.APPROVED: N_("Shown"),
    QuestionStatus.HIDDEN: N_("Hidden"),
}


class QuestionSort(StrEnum):
    VOTES = "votes"
    TIME = "time"


class Moderation(StrEnum):
    APPROVE = "approve"
    HIDE = "hide"
    PIN = "pin"
    UNPIN = "unpin"
    ANSWERED = "answered"
    UNANSWERED = "unanswered"


QuestionText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=2, max_length=500)
]
Nickname = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]


class QaCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Text = ""
    # Pre-moderation: a question is shown only once a moderator approves it.
    premoderation: bool = False


class QaUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Text | None = None
    premoderation: bool | None = None


class AskIn(GivesConsent):
    model_config = ConfigDict(extra="forbid")

    text: QuestionText
    nickname: Nickname = ""


class UpvoteIn(GivesConsent):
    model_config = ConfigDict(extra="forbid")


class ModerateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Moderation


class QuestionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    text: str
    nickname: str | None
    status: QuestionStatus
    pinned: bool
    answered: bool
    upvotes: int
    created_at: datetime


class QuestionBoard(BaseModel):
    """The questions of one Q&A as a given audience sees them, pinned first."""

    activity_id: int
    title: str
    sort: QuestionSort
    questions: list[QuestionRead]
    pending: int | None  # for moderators only: the queue's length is the brand's business


class QaPublic(BaseModel):
    """A Q&A as one visitor sees it: the shown questions, which of them this visitor upvoted,
    and their own questions still waiting for a moderator."""

    activity_id: int
    title: str
    open: bool
    closed_reason: str | None
    sort: QuestionSort
    questions: list[QuestionRead]
    my_upvotes: list[int]
    my_waiting: list[QuestionRead]


class AskReceipt(BaseModel):
    question: QuestionRead
    visible: bool  # False while it waits for a moderator


class UpvoteReceipt(BaseModel):
    question_id: int
    upvotes: int
    held_for_review: bool
