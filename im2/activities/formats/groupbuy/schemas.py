"""Request and response shapes of the group-buy."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from im2.activities.schemas import GivesConsent, Text, Title
from im2.i18n import N_


class TeamStatus(StrEnum):
    OPEN = "open"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


STATUS_LABELS = {
    TeamStatus.OPEN: N_("Open, waiting for members"),
    TeamStatus.SUCCEEDED: N_("Succeeded"),
    TeamStatus.FAILED: N_("Failed (not full in time)"),
}

Money = Annotated[Decimal, Field(gt=0, max_digits=10, decimal_places=2)]


class GroupbuyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Text = ""
    product: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    price: Money
    original_price: Money
    team_size: int = Field(ge=2, le=50)
    hours: int = Field(ge=1, le=24 * 14)


class Offer(BaseModel):
    product: str
    price: Decimal
    original_price: Decimal
    team_size: int
    hours: int


class TeamJoinIn(GivesConsent):
    model_config = ConfigDict(extra="forbid")


class TeamRead(BaseModel):
    """A team as anyone with its link sees it; the status is as of now (an open team past its
    deadline reads as failed even before the job has marked it)."""

    activity_id: int
    code: str
    status: TeamStatus
    size: int
    members: int
    slots_left: int
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    share_path: str


class TeamRow(BaseModel):
    id: int
    code: str
    status: TeamStatus
    leader_id: int
    size: int
    members: int
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None


class GroupbuyStats(BaseModel):
    activity_id: int
    title: str
    offer: Offer
    teams: int
    open: int
    succeeded: int
    failed: int
    members: int
    buyers: int  # members of succeeded teams
    rows: list[TeamRow]


class GroupbuyUpdate(BaseModel):
    """The texts can be corrected at any time; the rules that entries were made under cannot."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Text | None = None


class OfferRead(BaseModel):
    """An offer as this device sees it: the deal, its own latest team, teams it could join."""

    activity_id: int
    title: str
    offer: Offer
    my_team: TeamRead | None
    open_teams: list[TeamRead]
    can_open: bool
    closed_reason: str | None
