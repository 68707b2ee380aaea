"""Request and response shapes of the daily check-in."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from im2.activities.schemas import GivesConsent, Text, Title
from im2.i18n import _

DEFAULT_MILESTONES = [3, 7, 14]


def check_milestones(value: list[int]) -> list[int]:
    if any(m < 1 or m > 366 for m in value):
        raise ValueError(_("Milestones are streak lengths between 1 and 366 days."))
    return sorted(set(value))


class CheckinCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Text = ""
    milestones: list[int] = Field(default_factory=lambda: list(DEFAULT_MILESTONES), max_length=20)

    @field_validator("milestones")
    @classmethod
    def _sorted_positive(cls, value: list[int]) -> list[int]:
        return check_milestones(value)


class CheckinIn(GivesConsent):
    model_config = ConfigDict(extra="forbid")


class CheckinReceipt(BaseModel):
    activity_id: int
    day: str
    streak: int
    total_days: int
    milestone: int | None  # the streak length just reached, when it is a milestone
    held_for_review: bool


class StreakRow(BaseModel):
    participant_id: int
    current_streak: int
    best_streak: int
    total_days: int
    last_day: str


class CheckinStats(BaseModel):
    activity_id: int
    title: str
    today: str
    checked_in_today: int
    participants: int
    check_ins: int
    held: int
    milestones: list[int]
    leaderboard: list[StreakRow]


class CalendarDay(BaseModel):
    day: str
    number: int
    checked: bool
    today: bool
    in_month: bool


class MyCheckins(BaseModel):
    activity_id: int
    today: str
    checked_today: bool
    current_streak: int
    best_streak: int
    total_days: int
    next_milestone: int | None
    month: str  # YYYY-MM, the month shown
    previous_month: str | None  # a month with earlier check-ins to page back to
    next_month: str | None  # None once the month shown is the current one
    weeks: list[list[CalendarDay]]
    last_check_in: datetime | None


class CheckinPublic(MyCheckins):
    """A check-in as one visitor sees it (the embed frame's view): their streak and calendar,
    the milestones, and whether they can check in now."""

    title: str
    open: bool
    closed_reason: str | None
    can_check_in: bool
    milestones: list[int]


class CheckinUpdate(BaseModel):
    """Texts, and the milestones (they only decide events from the next check-in on)."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Text | None = None
    milestones: list[int] | None = Field(default=None, max_length=20)

    @field_validator("milestones")
    @classmethod
    def _sorted_positive(cls, value: list[int] | None) -> list[int] | None:
        return None if value is None else check_milestones(value)
