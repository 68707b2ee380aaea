"""Experiment request and response shapes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from im2.events.schemas import EventKind
from im2.i18n import N_
from im2.types import DbId, PeopleData


class ExperimentStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    CONCLUDED = "concluded"


# What a participant can do that an experiment may count as its goal; the person it is credited
# to is the event's participant (for share.clicked: the sharer whose link was clicked).
GOAL_KINDS: tuple[EventKind, ...] = (
    EventKind.PARTICIPANT_JOINED,
    EventKind.VOTE_CAST,
    EventKind.QUIZ_ANSWERED,
    EventKind.SURVEY_SUBMITTED,
    EventKind.QUESTION_ASKED,
    EventKind.QUESTION_UPVOTED,
    EventKind.UGC_SUBMITTED,
    EventKind.UGC_VOTED,
    EventKind.DRAW_ENTERED,
    EventKind.CHECKIN_DONE,
    EventKind.GROUPBUY_OPENED,
    EventKind.GROUPBUY_JOINED,
    EventKind.COMMENT_POSTED,
    EventKind.LIKE_GIVEN,
    EventKind.SHARE_CREATED,
    EventKind.SHARE_CLICKED,
    EventKind.POSTER_DOWNLOADED,
    EventKind.REFERRAL_CONVERTED,
    EventKind.COUPON_REDEEMED,
    EventKind.PRIZE_CLAIMED,
    EventKind.CONVERSION_RECORDED,
)

# What each goal means to a marketer (the form's checkboxes and the list show these, not keys).
GOAL_LABELS: dict[str, str] = {
    EventKind.PARTICIPANT_JOINED.value: N_("Joined the campaign"),
    EventKind.VOTE_CAST.value: N_("Voted"),
    EventKind.QUIZ_ANSWERED.value: N_("Answered a quiz"),
    EventKind.SURVEY_SUBMITTED.value: N_("Answered a survey"),
    EventKind.QUESTION_ASKED.value: N_("Asked a question"),
    EventKind.QUESTION_UPVOTED.value: N_("Upvoted a question"),
    EventKind.UGC_SUBMITTED.value: N_("Submitted an entry"),
    EventKind.UGC_VOTED.value: N_("Voted for an entry"),
    EventKind.DRAW_ENTERED.value: N_("Entered a lucky draw"),
    EventKind.CHECKIN_DONE.value: N_("Checked in"),
    EventKind.GROUPBUY_OPENED.value: N_("Started a group-buy"),
    EventKind.GROUPBUY_JOINED.value: N_("Joined a group-buy"),
    EventKind.COMMENT_POSTED.value: N_("Posted a comment"),
    EventKind.LIKE_GIVEN.value: N_("Gave a like"),
    EventKind.SHARE_CREATED.value: N_("Made a share link"),
    EventKind.SHARE_CLICKED.value: N_("A friend opened their share link"),
    EventKind.POSTER_DOWNLOADED.value: N_("Downloaded a poster"),
    EventKind.REFERRAL_CONVERTED.value: N_("An invited friend joined"),
    EventKind.COUPON_REDEEMED.value: N_("Used a coupon"),
    EventKind.PRIZE_CLAIMED.value: N_("Claimed a prize"),
    EventKind.CONVERSION_RECORDED.value: N_("Made a purchase"),
}


class VariantPayload(BaseModel):
    """What the variant changes on the activity's page; a field left out keeps the original."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, description="Replaces the activity's title.")
    description: str | None = Field(default=None, description="Replaces its description.")
    button_text: str | None = Field(default=None, description="Replaces the main button's label.")
    reward_level: int | None = Field(
        default=None,
        description=(
            "Points this variant's participants earn on the activity, as a percentage of the "
            "normal amount (100 = unchanged, 200 = double, 0 = none); empty means 100. "
            "Coupons and prizes are not scaled."
        ),
    )


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(description="Short name, e.g. control or b (letters, digits, - and _).")
    name: str | None = None
    weight: float = Field(default=1.0, description="Share of traffic, relative to the others.")
    payload: VariantPayload = Field(default_factory=VariantPayload)


class ExperimentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(description="Unique in the workspace; part of the assignment hash.")
    name: str
    activity_id: DbId
    variants: list[VariantIn] = Field(description="Two or more; the first is the control.")
    goal_kinds: list[str] = Field(description="Event kinds that count as a conversion.")
    min_effect: float = Field(
        default=0.2, description="Smallest relative lift worth detecting (0.2 = 20 %)."
    )
    start: bool = Field(default=False, description="Start at once instead of saving a draft.")
    audience_segment_id: DbId | None = Field(
        default=None,
        description="Only this segment's people take part in the experiment (a segment id); "
        "others see the activity as it is and are not counted.",
    )


class ExperimentConclude(BaseModel):
    model_config = ConfigDict(extra="forbid")

    winner: str | None = Field(default=None, description="The variant kept (a key), or none.")
    apply: bool = Field(
        default=True,
        description="Make the kept variant's title and description the activity's own.",
    )


class VariantRead(BaseModel):
    key: str
    name: str
    weight: float
    payload: VariantPayload


class ExperimentRead(BaseModel):
    id: int
    key: str
    name: str
    campaign_id: int
    activity_id: int
    status: ExperimentStatus
    variants: list[VariantRead]
    goal_kinds: list[str]
    min_effect: float
    winner: str | None
    created_at: datetime
    started_at: datetime | None
    concluded_at: datetime | None
    # The audience: this segment's people only, as of the version recorded when it was set.
    audience_segment_id: int | None = None
    audience_segment_version: int | None = None


class VariantResult(BaseModel):
    key: str
    name: str
    reward_level: int | None = Field(
        default=None, description="The variant's reward level (% of the normal points), if set."
    )
    exposures: int
    conversions: int
    conversion_rate: float | None
    interval_low: float = Field(description="95 % credible interval of the rate, lower end.")
    interval_high: float
    probability_best: float
    expected_loss: float
    needed: int = Field(description="Exposures still missing before a winner can be declared.")


class ExperimentResults(BaseModel):
    experiment: ExperimentRead
    computed_at: datetime
    variants: list[VariantResult]
    required_per_variant: int
    enough_data: bool
    leader: str | None
    significant: bool
    verdict: str


class Assignment(BaseModel):
    """The variant one visitor sees of the running experiment on an activity."""

    experiment_key: str
    activity_id: int
    variant: str
    payload: VariantPayload


class RewardLevel(BaseModel):
    """The reward level a participant earns with on an activity: the variant they are assigned
    to in the experiment that ran on it at that moment."""

    model_config = ConfigDict(frozen=True)

    experiment_key: str
    variant: str
    level: int = Field(description="Percentage of the normal points (100 = unchanged).")

    def scale(self, points: int) -> int:
        """`points` at this level, rounded half up to a whole point (0 at level 0)."""
        return (points * self.level + 50) // 100


# What this domain holds about people (im2.types.PeopleData, walked by im2.privacy.inventory).
PEOPLE_DATA: tuple[PeopleData, ...] = (
    PeopleData(
        table="experiment_exposures",
        participant_columns=("participant_id",),
        device_columns=("device_id",),
    ),
)
