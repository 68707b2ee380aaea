"""Request and response shapes of the referral activity.

At most two reward levels: the direct inviter (level 1) and the inviter's inviter (level 2).
Paying further up the chain is multi-level marketing, illegal in China as pyramid selling
(传销, 《禁止传销条例》), so no configuration can express it: `levels` above 2 is refused with
that reason, and there is no field for a third level's reward.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from im2.activities.schemas import GivesConsent, Text, Title
from im2.events.schemas import EventKind
from im2.i18n import N_, _
from im2.incentives.schemas import SIGNAL_LABELS
from im2.types import DbId

MAX_LEVELS = 2
PYRAMID_MESSAGE = N_(
    "At most 2 reward levels (the inviter, and the inviter's inviter). Rewards for deeper "
    "levels are multi-level marketing, illegal in China as pyramid selling (传销)."
)


class QualifyOn(StrEnum):
    """What an invited friend must do before anyone is rewarded for the invite."""

    JOINED = "joined"
    VERIFIED = "verified"
    INTERACTION = "interaction"
    PURCHASE = "purchase"


QUALIFY_LABELS = {
    QualifyOn.JOINED: N_("Joins the campaign"),
    QualifyOn.VERIFIED: N_("Verifies a phone number or e-mail address"),
    QualifyOn.INTERACTION: N_("Takes part in an activity (votes, answers, submits, checks in …)"),
    QualifyOn.PURCHASE: N_("Buys something (reported by the shop's conversion postback)"),
}

# The first of these by the invited friend, in the referral's campaign, qualifies them under
# QualifyOn.INTERACTION.
INTERACTION_KINDS: tuple[EventKind, ...] = (
    EventKind.VOTE_CAST,
    EventKind.QUIZ_ANSWERED,
    EventKind.SURVEY_SUBMITTED,
    EventKind.UGC_SUBMITTED,
    EventKind.QUESTION_ASKED,
    EventKind.CHECKIN_DONE,
    EventKind.DRAW_ENTERED,
    EventKind.GROUPBUY_JOINED,
)


class InviteStatus(StrEnum):
    PENDING = "pending"
    QUALIFIED = "qualified"
    HELD = "held"
    VOIDED = "voided"  # held, then voided by the brand in the review queue


STATUS_LABELS = {
    InviteStatus.PENDING: N_("Waiting for the friend to qualify"),
    InviteStatus.QUALIFIED: N_("Qualified"),
    InviteStatus.HELD: N_("Held for review"),
    InviteStatus.VOIDED: N_("Voided after review"),
}

# Why a qualified invite was held; the codes are stored in the evidence (the incentives review
# queue shows the same labels).
REASON_LABELS = SIGNAL_LABELS

RewardKindName = Literal["points", "coupon", "prize"]


class Reward(BaseModel):
    """What one person gets: points, a coupon from a pool, or one unit of a prize."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: RewardKindName
    points: int | None = Field(default=None, ge=1, le=1_000_000)
    pool_id: DbId | None = None
    prize_id: DbId | None = None

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.kind == "points" and self.points is None:
            raise PydanticCustomError("reward", _("Enter how many points."))
        if self.kind == "coupon" and self.pool_id is None:
            raise PydanticCustomError("reward", _("Choose a coupon pool."))
        if self.kind == "prize" and self.prize_id is None:
            raise PydanticCustomError("reward", _("Choose a prize."))
        return self


class Milestone(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    friends: int = Field(ge=1, le=10_000)
    reward: Reward


def _levels(value: int) -> int:
    if value > MAX_LEVELS:
        raise PydanticCustomError("pyramid_selling", _(PYRAMID_MESSAGE))
    if value < 1:
        raise PydanticCustomError("levels", _("At least 1 level (the inviter)."))
    return value


class ReferralSettings(BaseModel):
    """The rules, as stored in the activity's settings."""

    model_config = ConfigDict(extra="forbid")

    qualify_on: QualifyOn = QualifyOn.JOINED
    levels: int = 1
    inviter_reward: Reward | None = None
    invitee_reward: Reward | None = None
    level2_reward: Reward | None = None
    milestones: Annotated[list[Milestone], Field(max_length=10)] = []
    burst_minutes: int = Field(default=10, ge=1, le=24 * 60)
    burst_max: int = Field(default=5, ge=2, le=1000)

    @field_validator("levels")
    @classmethod
    def _check_levels(cls, value: int) -> int:
        return _levels(value)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_consistent(
            levels=self.levels,
            level2_reward=self.level2_reward,
            milestones=self.milestones,
            rewards=(self.inviter_reward, self.invitee_reward, self.level2_reward),
        )
        return self


def check_consistent(
    *,
    levels: int,
    level2_reward: Reward | None,
    milestones: list[Milestone],
    rewards: tuple[Reward | None, ...],
) -> None:
    if level2_reward is not None and levels < 2:
        raise PydanticCustomError(
            "levels", _("A level-2 reward needs 2 levels; set levels to 2 or remove it.")
        )
    counts = [m.friends for m in milestones]
    if counts != sorted(set(counts)):
        raise PydanticCustomError(
            "milestones",
            _("Milestones must have different numbers of friends, from fewest to most."),
        )
    if not milestones and all(r is None for r in rewards):
        raise PydanticCustomError(
            "rewards", _("Give at least one reward: for the inviter, the friend or a milestone.")
        )


class ReferralCreate(ReferralSettings):
    title: Title
    description: Text = ""


class ReferralUpdate(BaseModel):
    """Any subset; the result must still be a valid set of rules. New rules apply to invites
    that qualify from now on; rewards already given stay."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Text | None = None
    qualify_on: QualifyOn | None = None
    levels: int | None = None
    inviter_reward: Reward | None = None
    invitee_reward: Reward | None = None
    level2_reward: Reward | None = None
    milestones: Annotated[list[Milestone], Field(max_length=10)] | None = None
    burst_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    burst_max: int | None = Field(default=None, ge=2, le=1000)

    @field_validator("levels")
    @classmethod
    def _check_levels(cls, value: int | None) -> int | None:
        return None if value is None else _levels(value)


class InviteRow(BaseModel):
    id: int
    inviter_id: int
    inviter_name: str
    level2_id: int | None
    invitee_id: int
    invitee_name: str
    channel: str | None
    status: InviteStatus
    joined_at: datetime
    qualified_at: datetime | None
    qualified_by: str | None
    reasons: list[str]
    evidence: dict[str, Any]


class LeaderRow(BaseModel):
    rank: int
    participant_id: int
    name: str
    qualified: int
    held: int = 0
    pending: int = 0


class ReferralStats(BaseModel):
    activity_id: int
    title: str
    settings: ReferralSettings
    invites: int
    pending: int
    qualified: int
    held: int
    voided: int
    inviters: int
    milestones_reached: int
    leaderboard: list[LeaderRow]
    rows: list[InviteRow]


class LinkIn(GivesConsent):
    model_config = ConfigDict(extra="forbid")


class MilestoneProgress(BaseModel):
    friends: int
    reward: str
    reached: bool
    missing: int


class FriendRead(BaseModel):
    name: str  # masked
    status: InviteStatus
    joined_at: datetime


class MyReferral(BaseModel):
    """The referral as this device sees it: its link, progress and friends (masked)."""

    activity_id: int
    title: str
    qualify_on: QualifyOn
    closed_reason: str | None
    joined: bool
    share_code: str | None
    share_url: str | None
    qr_svg: str | None
    qualified: int
    pending: int
    held: int
    rank: int | None
    inviter_reward: str | None
    invitee_reward: str | None
    level2_reward: str | None
    invited_by: str | None
    milestones: list[MilestoneProgress]
    friends: list[FriendRead]
    leaderboard: list[LeaderRow]
