"""Request and response shapes of the UGC contest format, and its ranking rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from im2.activities.schemas import GivesConsent, Text, Title
from im2.i18n import N_


class EntryStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


STATUS_LABELS = {
    EntryStatus.PENDING: N_("Waiting for review"),
    EntryStatus.APPROVED: N_("In the gallery"),
    EntryStatus.REJECTED: N_("Rejected"),
}


class EntryKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    TEXT = "text"


Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Caption = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
Nickname = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]


class UgcSettings(BaseModel):
    """A contest's rules as stored in `Activity.settings` (`review.settings_from` writes them)."""

    model_config = ConfigDict(extra="forbid")

    hashtag: str = ""
    allow_images: bool = True
    allow_videos: bool = True
    entries_per_participant: int = 3
    votes_per_day: int = 3
    jury_weight: float = 0.6
    keywords: list[str] = []
    flag_negative: bool = True
    auto_approve: bool = False
    winners: int = 3


class UgcCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Text = ""
    hashtag: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""
    allow_images: bool = True
    allow_videos: bool = True
    entries_per_participant: int = Field(default=3, ge=1, le=50)
    votes_per_day: int = Field(default=3, ge=1, le=50)
    # Weight of the jury in the published ranking rule; the public vote gets the rest.
    jury_weight: float = Field(default=0.6, ge=0, le=1)
    keywords: list[Keyword] = Field(default_factory=list, max_length=200)
    flag_negative: bool = True
    # Entries without any flag go straight to the gallery; flagged ones always wait.
    auto_approve: bool = False
    winners: int = Field(default=3, ge=1, le=100)


class UgcUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Text | None = None
    keywords: list[Keyword] | None = Field(default=None, max_length=200)
    jury_weight: float | None = Field(default=None, ge=0, le=1)
    votes_per_day: int | None = Field(default=None, ge=1, le=50)
    auto_approve: bool | None = None


class EntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    nickname: str | None
    caption: str
    kind: EntryKind
    image_url: str | None
    image_name: str | None
    video_url: str | None
    video_host: str | None
    status: EntryStatus
    flags: str | None
    votes: int
    winner_rank: int | None
    created_at: datetime


class UgcPublic(BaseModel):
    """A contest as one visitor sees it (the embed frame's view): what an entry may hold, the
    gallery (approved entries, newest first), their own entries and today's votes."""

    activity_id: int
    title: str
    open: bool
    closed_reason: str | None
    hashtag: str
    allow_images: bool
    allow_videos: bool
    max_image_bytes: int
    image_types: list[str]
    entries_per_participant: int
    entries_left: int
    votes_per_day: int
    votes_left_today: int
    voted_today: list[int]  # entry ids voted for today
    entries: list[EntryRead]
    my_entries: list[EntryRead]


class SubmitReceipt(BaseModel):
    entry: EntryRead
    in_gallery: bool  # False while it waits for a moderator


class VoteIn(GivesConsent):
    model_config = ConfigDict(extra="forbid")


class VoteReceipt(BaseModel):
    entry_id: int
    votes: int
    votes_left_today: int
    held_for_review: bool


class ModerateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool


class ScoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=0, le=10)


class RankedEntry(BaseModel):
    rank: int
    entry: EntryRead
    jury_average: float | None  # 0..10, None before any juror scored it
    jurors: int
    jury_part: float  # 0..1, the entry's jury average / 10
    public_part: float  # 0..1, the entry's votes / the most votes any entry has
    total: float  # jury_weight × jury_part + (1 − jury_weight) × public_part


class Ranking(BaseModel):
    activity_id: int
    jury_weight: float
    public_weight: float
    entries: list[RankedEntry]
    winners_marked: bool


@dataclass(frozen=True, slots=True)
class RuleInput:
    """One approved entry as the ranking rule sees it (plain data; no database)."""

    entry_id: int
    votes: int
    scores: tuple[int, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RuleResult:
    entry_id: int
    jury_average: float | None
    jury_part: float
    public_part: float
    total: float


def apply_rule(items: list[RuleInput], *, jury_weight: float) -> list[RuleResult]:
    """The published ranking rule: total = w × (jury average / 10) + (1 − w) × (votes / most
    votes); higher total first, then more votes, then the earlier entry."""
    most = max((i.votes for i in items), default=0)
    results: list[tuple[RuleResult, RuleInput]] = []
    for item in items:
        average = sum(item.scores) / len(item.scores) if item.scores else None
        jury_part = (average or 0.0) / 10
        public_part = item.votes / most if most else 0.0
        total = jury_weight * jury_part + (1 - jury_weight) * public_part
        results.append(
            (
                RuleResult(
                    entry_id=item.entry_id,
                    jury_average=average,
                    jury_part=jury_part,
                    public_part=public_part,
                    total=round(total, 6),
                ),
                item,
            )
        )
    results.sort(key=lambda pair: (-pair[0].total, -pair[1].votes, pair[1].created_at))
    return [r for r, _item in results]
