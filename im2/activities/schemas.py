"""Shapes shared by the activity formats: what an activity looks like to the rest of IM2."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from im2.i18n import N_


class ActivityKind(StrEnum):
    """Every format; each has a package under `im2/activities/formats/<kind>/`."""

    POLL = "poll"
    QUIZ = "quiz"  # quizzes scored at once, and predictions (竞猜) settled later
    SURVEY = "survey"
    QA = "qa"
    UGC = "ugc"
    DRAW = "draw"
    CHECKIN = "checkin"
    GROUPBUY = "groupbuy"
    REFERRAL = "referral"  # invite-a-friend, at most two reward levels
    CARDS = "cards"  # 集卡, collect the set


KIND_LABELS = {
    ActivityKind.POLL: N_("Poll / vote"),
    ActivityKind.QUIZ: N_("Quiz / prediction"),
    ActivityKind.SURVEY: N_("Survey"),
    ActivityKind.QA: N_("Live Q&A"),
    ActivityKind.UGC: N_("UGC contest / hashtag challenge"),
    ActivityKind.DRAW: N_("Lucky draw"),
    ActivityKind.CHECKIN: N_("Daily check-in"),
    ActivityKind.GROUPBUY: N_("Group-buy"),
    ActivityKind.REFERRAL: N_("Referral / invite friends"),
    ActivityKind.CARDS: N_("Collect the set"),
}

# Hints of the shared title/description editor, for formats whose other settings cannot change
# once people have taken part.
QUESTIONS_HINT = N_(
    "The questions stay as participants answered them; only the texts above them change."
)
OPTIONS_HINT = N_("The options stay as participants voted; only the texts above them change.")
ENTRIES_HINT = N_(
    "Questions and entries stay as participants sent them; only the texts above them change."
)

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]


class GivesConsent(BaseModel):
    """What a participant's action through the public JSON API says about consent: the box
    (`consent`, needed on a visitor's first action), and the hash of the consent text it showed
    (`consent_sha256`, from the page or the widget's activity read). With the hash, a first
    action ticked under a text the brand has replaced since is refused (422) and stores
    nothing; without it, the action records whatever text is current."""

    consent: bool = False
    consent_sha256: str | None = Field(default=None, max_length=64)


class ActivityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    campaign_id: int
    kind: ActivityKind
    title: str
    description: str
    position: int
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime
