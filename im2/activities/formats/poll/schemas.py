"""Request and response shapes of the poll format."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from im2.activities.schemas import GivesConsent, Text, Title
from im2.i18n import N_
from im2.types import DbId


class ResultsVisibility(StrEnum):
    LIVE = "live"
    AFTER_VOTE = "after_vote"
    AFTER_END = "after_end"


VISIBILITY_LABELS = {
    ResultsVisibility.LIVE: N_("Always, updating live"),
    ResultsVisibility.AFTER_VOTE: N_("After the participant has voted"),
    ResultsVisibility.AFTER_END: N_("Only after the campaign ends (avoids herding)"),
}


class VoteLimit(StrEnum):
    ONCE = "once"
    DAILY = "daily"


OptionLabel = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class PollOptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: OptionLabel
    image_url: (
        Annotated[str, StringConstraints(pattern=r"^(https?://|/)\S+$", max_length=500)] | None
    ) = None


class PollCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Text = ""
    options: list[PollOptionIn] = Field(min_length=2, max_length=30)
    multiple: bool = False
    max_choices: int = Field(default=1, ge=1, le=30)
    vote_limit: VoteLimit = VoteLimit.ONCE
    votes_per_day: int = Field(default=1, ge=1, le=50)
    results: ResultsVisibility = ResultsVisibility.AFTER_VOTE


class PollSettings(BaseModel):
    """A poll's rules as stored in `Activity.settings` (`service.settings_from` writes them)."""

    model_config = ConfigDict(extra="forbid")

    multiple: bool = False
    max_choices: int = Field(default=1, ge=1, le=30)
    vote_limit: VoteLimit = VoteLimit.ONCE
    votes_per_day: int = Field(default=1, ge=1, le=50)
    results: ResultsVisibility = ResultsVisibility.AFTER_VOTE

    @property
    def daily(self) -> bool:
        return self.vote_limit is VoteLimit.DAILY

    @property
    def choice_limit(self) -> int:
        """How many options one ballot may hold."""
        return self.max_choices if self.multiple else 1

    @property
    def allowance(self) -> int:
        """Ballots per person: per local day for a daily poll, else in all."""
        return self.votes_per_day if self.daily else 1


class PollUpdate(BaseModel):
    """Options can be renamed or added while nobody has voted; after that only the texts."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Text | None = None
    results: ResultsVisibility | None = None


class VoteIn(GivesConsent):
    model_config = ConfigDict(extra="forbid")

    options: list[DbId] = Field(min_length=1, max_length=30)


class OptionResult(BaseModel):
    id: int
    label: str
    image_url: str | None
    votes: int
    share: float  # 0..1 of all choices made


class PollResults(BaseModel):
    activity_id: int
    title: str
    ballots: int
    voters: int
    held: int
    options: list[OptionResult]


class VoteReceipt(BaseModel):
    ballot_id: int
    activity_id: int
    options: list[int]
    held_for_review: bool
    results: PollResults | None
