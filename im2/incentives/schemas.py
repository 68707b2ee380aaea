"""What other domains and the API know of incentives: reward specs, grant results, coupons,
prizes, rules, balances."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from im2.events.schemas import EventKind
from im2.i18n import N_, gettext
from im2.types import DbId, PeopleData

# The largest file of coupon codes the console takes (the upload route reads one byte more to
# tell; the app's body limit for that route is the same number).
CODES_FILE_MAX_BYTES: Final = 5 * 1024 * 1024


class RewardKind(StrEnum):
    POINTS = "points"
    COUPON = "coupon"
    PRIZE = "prize"


class RewardSpec(BaseModel):
    """What to give: points (an amount), a coupon (from a pool) or a prize (one unit)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: RewardKind
    points: int | None = None
    pool_id: DbId | None = None
    prize_id: DbId | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.kind is RewardKind.POINTS and (self.points is None or self.points <= 0):
            raise ValueError("a points reward needs points > 0")
        if self.kind is RewardKind.COUPON and self.pool_id is None:
            raise ValueError("a coupon reward needs pool_id")
        if self.kind is RewardKind.PRIZE and self.prize_id is None:
            raise ValueError("a prize reward needs prize_id")
        return self


# withheld: an experiment variant's reward level of 0 % left no points to give (nothing written).
GrantStatus = Literal["granted", "held", "duplicate", "out_of_stock", "withheld"]


@dataclass(frozen=True)
class GrantResult:
    status: GrantStatus
    grant_id: int | None
    coupon_code: str | None


class CouponStatus(StrEnum):
    AVAILABLE = "available"  # not issued to anyone yet
    ISSUED = "issued"  # issued and usable
    USED = "used"  # every use spent
    EXPIRED = "expired"
    VOID = "void"


@dataclass(frozen=True)
class CouponRef:
    code: str
    pool_id: int
    campaign_id: int
    participant_id: int | None
    status: CouponStatus
    uses: int
    max_uses: int
    expires_at: datetime | None


@dataclass(frozen=True)
class PoolRef:
    id: int
    campaign_id: int
    name: str
    description: str
    source: str
    max_uses: int
    expires_at: datetime | None
    cost_points: int | None
    total: int
    issued: int
    redeemed: int

    @property
    def available(self) -> int:
        return self.total - self.issued


@dataclass(frozen=True)
class PrizeRef:
    id: int
    campaign_id: int
    name: str
    description: str
    units: int
    stock: int  # free to take now (the store, grants, instant draws)
    cost_points: int | None
    reserved: int = 0  # promised to scheduled draws that have not taken place yet
    won_in_draws: int = 0  # units lucky draws have given to winners


# Event kinds the rules may award points for, in the order the console lists them.
RULE_EVENT_KINDS: tuple[EventKind, ...] = (
    EventKind.PARTICIPANT_JOINED,
    EventKind.PARTICIPANT_VERIFIED,
    EventKind.VOTE_CAST,
    EventKind.QUIZ_ANSWERED,
    EventKind.SURVEY_SUBMITTED,
    EventKind.QUESTION_ASKED,
    EventKind.UGC_SUBMITTED,
    EventKind.DRAW_ENTERED,
    EventKind.CHECKIN_DONE,
    EventKind.STREAK_MILESTONE,
    EventKind.GROUPBUY_JOINED,
    EventKind.COMMENT_POSTED,
    EventKind.SHARE_CLICKED,
    EventKind.REFERRAL_QUALIFIED,
    EventKind.CONVERSION_RECORDED,
)


@dataclass(frozen=True)
class RuleRef:
    id: int
    campaign_id: int
    event_kind: str
    points: int
    daily_cap: int | None
    total_cap: int | None
    expires_days: int | None
    active: bool


@dataclass(frozen=True)
class LedgerLine:
    id: int
    participant_id: int
    campaign_id: int | None
    kind: str
    delta: int
    reason: str
    key: str
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class Balance:
    participant_id: int
    points: int
    expiring_soon: int  # points that expire within the next 7 days
    next_expiry: datetime | None


@dataclass(frozen=True)
class GrantRef:
    id: int
    campaign_id: int
    participant_id: int
    key: str
    kind: str
    points: int | None
    pool_id: int | None
    prize_id: int | None
    reason: str
    status: str
    evidence: dict[str, Any]
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    coupon_code: str | None


@dataclass(frozen=True)
class RedemptionRef:
    id: int
    code: str
    campaign_id: int
    order_id: str | None
    store: str | None
    ip: str | None
    created_at: datetime
    review: str | None
    evidence: dict[str, Any] = field(default_factory=dict)
    uses: int = 0
    max_uses: int = 1


@dataclass(frozen=True)
class PrizeClaimRef:
    id: int
    prize_id: int
    prize_name: str
    created_at: datetime
    source: str = "grant"  # "draw" when won in a lucky draw


# --- API shapes --------------------------------------------------------------------------------


class PoolCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=300)
    max_uses: int = Field(default=1, ge=1, le=1_000_000)
    expires_at: datetime | None = None
    cost_points: int | None = Field(default=None, gt=0)


class PoolRead(BaseModel):
    id: int
    campaign_id: int
    name: str
    description: str
    source: str
    max_uses: int
    expires_at: datetime | None
    cost_points: int | None
    total: int
    issued: int
    available: int
    redeemed: int


class CodesGenerate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, le=100_000)


class CodesImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    codes: list[str] = Field(min_length=1, max_length=100_000)


class CodesAdded(BaseModel):
    added: int
    total: int


class CouponIssue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    participant_id: DbId
    key: str = Field(min_length=1, max_length=160)
    reason: str = Field(default="api", max_length=200)


class GrantRead(BaseModel):
    status: GrantStatus
    grant_id: int | None
    coupon_code: str | None


class CouponRead(BaseModel):
    code: str
    pool_id: int
    campaign_id: int
    participant_id: int | None
    status: CouponStatus
    uses: int
    max_uses: int
    expires_at: datetime | None


class RedemptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=80)
    order_id: str | None = Field(default=None, min_length=1, max_length=80)
    store: str | None = Field(default=None, max_length=80)


class RedemptionRead(BaseModel):
    id: int
    code: str
    campaign_id: int
    order_id: str | None
    store: str | None
    redeemed_at: datetime
    uses: int
    max_uses: int
    flagged: bool


class BalanceRead(BaseModel):
    participant_id: int
    points: int
    expiring_soon: int
    next_expiry: datetime | None


class PointsAward(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: DbId
    points: int = Field(gt=0, le=1_000_000)
    key: str = Field(min_length=1, max_length=160)
    reason: str = Field(default="api", min_length=1, max_length=200)


class PurchaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: DbId
    item: Literal["coupon", "prize"]
    item_id: DbId
    key: str = Field(min_length=1, max_length=160)


LEDGER_KIND_LABELS: dict[str, str] = {
    "award": N_("Points received"),
    "spend": N_("Points used"),
    "expiry": N_("Expired"),
    "void": N_("Voided after review"),
}

EVENT_LABELS: dict[str, str] = {
    EventKind.PARTICIPANT_JOINED.value: N_("Joined the campaign"),
    EventKind.PARTICIPANT_VERIFIED.value: N_("Verified your identity"),
    EventKind.VOTE_CAST.value: N_("Voted"),
    EventKind.QUIZ_ANSWERED.value: N_("Answered a quiz"),
    EventKind.SURVEY_SUBMITTED.value: N_("Answered a survey"),
    EventKind.QUESTION_ASKED.value: N_("Asked a question"),
    EventKind.UGC_SUBMITTED.value: N_("Submitted an entry"),
    EventKind.DRAW_ENTERED.value: N_("Entered a lucky draw"),
    EventKind.CHECKIN_DONE.value: N_("Checked in"),
    EventKind.STREAK_MILESTONE.value: N_("Check-in streak milestone"),
    EventKind.GROUPBUY_JOINED.value: N_("Joined a group-buy"),
    EventKind.COMMENT_POSTED.value: N_("Posted a comment"),
    EventKind.SHARE_CLICKED.value: N_("A friend opened your share link"),
    EventKind.REFERRAL_QUALIFIED.value: N_("A friend you invited took part"),
    EventKind.CONVERSION_RECORDED.value: N_("Made a purchase"),
    "expired": N_("Points expired"),
}


# Why a reward or a redemption waits for review: the evidence's signal codes, shared with the
# referral activity that raises most of them.
SIGNAL_LABELS: dict[str, str] = {
    "same_device": N_("Same device (same browser and IP address) as the inviter"),
    "same_network": N_("Same network as the inviter (IPv4 /24 or IPv6 /64)"),
    "same_identity": N_("Same verified phone number or e-mail address as the inviter"),
    "ring": N_("Referral ring: the two sides invite each other"),
    "burst": N_("Burst of sign-ups through one link in a short time"),
    "held_invites": N_("Reached only with invites that are held for review"),
    "disposable_email_domain": N_("Verified with a disposable e-mail address"),
    "shared_code": N_("One code redeemed from many places"),
}
# Facts the evidence carries besides its signals.
EVIDENCE_FIELDS: dict[str, str] = {
    "inviter": N_("Inviter"),
    "invitee": N_("Invited friend"),
    "share_code": N_("Share link"),
    "decides_invite": N_("Approving or voiding this reward settles the invite"),
    "points": N_("Points"),
    "redemptions_in_window": N_("Redemptions in the window"),
    "window_minutes": N_("Window (minutes)"),
    "ips": N_("IP addresses"),
    "stores": N_("Stores"),
    "friends": N_("Friends"),
}
_EVIDENCE_SKIP = {"reasons", "details", "activity", "invite", "signal", "store", "grants"}


def evidence_lines(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    """The evidence of a held reward or flagged redemption as (label, value) lines a reviewer
    reads in their language: signals first, then the facts; unknown keys as they are."""
    lines: list[tuple[str, str]] = []
    details = evidence.get("details") if isinstance(evidence.get("details"), dict) else {}
    signals = dict(details or {})
    for code in evidence.get("reasons") or []:
        signals.setdefault(str(code), "")
    if evidence.get("signal"):
        signals.setdefault(str(evidence["signal"]), "")
    if evidence.get("disposable_email_domain"):
        signals["disposable_email_domain"] = str(evidence["disposable_email_domain"])
    for code, value in signals.items():
        label = SIGNAL_LABELS.get(code)
        lines.append((gettext(label) if label else code, _plain(value)))
    if evidence.get("store"):
        lines.append((gettext(N_("Bought in the points store")), _plain(evidence.get("points"))))
    for key, value in evidence.items():
        if key in _EVIDENCE_SKIP or key in signals or (key == "points" and evidence.get("store")):
            continue
        label = EVIDENCE_FIELDS.get(key)
        if key in ("inviter", "invitee") and isinstance(value, int):
            value = f"#{value}"
        lines.append((gettext(label) if label else key, _plain(value)))
    return lines


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return gettext(N_("yes")) if value else gettext(N_("no"))
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def reason_label(reason: str) -> str:
    """What a ledger reason means to a person: event kinds by their label, the rest as given."""
    label = EVENT_LABELS.get(reason)
    return gettext(label) if label else reason


class PrizeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=300)
    units: int = Field(ge=0, le=10_000_000)
    cost_points: int | None = Field(default=None, gt=0)


class PrizeRead(BaseModel):
    id: int
    campaign_id: int
    name: str
    description: str
    units: int
    stock: int
    cost_points: int | None
    reserved: int = 0
    won_in_draws: int = 0


class LedgerEntryRead(BaseModel):
    id: int
    campaign_id: int | None
    kind: str
    delta: int
    reason: str
    key: str
    created_at: datetime
    expires_at: datetime | None


# What this domain holds about people (im2.types.PeopleData, walked by im2.privacy.inventory).
# Ledger rows, codes and claims stay (anonymised) so that stock, points issued and redemptions
# still add up after an erasure.
PEOPLE_DATA: tuple[PeopleData, ...] = (
    PeopleData(table="incentive_wallets", participant_columns=("participant_id",)),
    PeopleData(table="point_entries", participant_columns=("participant_id",)),
    PeopleData(table="coupon_codes", participant_columns=("participant_id",)),
    PeopleData(
        table="coupon_redemptions",
        via="code_id->coupon_codes.id",
        identity_columns=("order_id",),
        personal_columns=("ip", "evidence"),
    ),
    PeopleData(table="prize_claims", participant_columns=("participant_id",)),
    PeopleData(
        table="reward_grants",
        participant_columns=("participant_id",),
        personal_columns=("evidence",),
    ),
)
