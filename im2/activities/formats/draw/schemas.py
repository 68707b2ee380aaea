"""Request and response shapes of the lucky draw."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from im2.activities.schemas import GivesConsent, Text, Title
from im2.i18n import N_
from im2.types import DbId


class DrawMode(StrEnum):
    INSTANT = "instant"
    SCHEDULED = "scheduled"


MODE_LABELS = {
    DrawMode.INSTANT: N_("Instant win: each entry wins with the set odds while stock lasts"),
    DrawMode.SCHEDULED: N_("Scheduled draw among all entrants at a set time"),
}

PrizeName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class PrizeIn(BaseModel):
    """A draw-only prize (`name`, its own `stock`), or one of the campaign's prizes from the
    incentives page (`prize_id`), whose stock the draw shares with the points store; `stock` is
    then how many units the draw may give (a scheduled draw reserves them when it is created)."""

    model_config = ConfigDict(extra="forbid")

    name: PrizeName | None = None  # a shared prize is published under its own name
    prize_id: DbId | None = None
    stock: int = Field(ge=1, le=1_000_000)
    odds: float = Field(default=0.0, ge=0.0, le=1.0)  # instant win only

    @model_validator(mode="after")
    def _named(self) -> PrizeIn:
        if self.name is None and self.prize_id is None:
            raise ValueError("give a prize a name, or choose one of the campaign's prizes")
        return self


class DrawCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Text = ""
    mode: DrawMode = DrawMode.INSTANT
    draw_at: AwareDatetime | None = None  # scheduled draws only
    prizes: list[PrizeIn] = Field(min_length=1, max_length=20)


class EnterIn(GivesConsent):
    model_config = ConfigDict(extra="forbid")


class PrizeRead(BaseModel):
    id: int
    name: str
    units: int  # published: how many the draw can give
    stock: int  # how many of those the draw has not given yet
    odds: float
    won: int
    # The campaign prize whose stock the draw shares (None: a draw-only prize), and that
    # stock's free units now (an instant win needs one; the store may have taken the rest).
    shared_prize_id: int | None = None
    shared_stock: int | None = None

    @property
    def left(self) -> int:
        """What can still be won now."""
        return self.stock if self.shared_stock is None else min(self.stock, self.shared_stock)


class EntryReceipt(BaseModel):
    entry_id: int
    activity_id: int
    mode: DrawMode
    held_for_review: bool
    won: bool
    prize: str | None
    draw_at: datetime | None


class MyEntry(BaseModel):
    """This device's part in a draw."""

    activity_id: int
    mode: DrawMode
    entered: bool
    entry_id: int | None
    held_for_review: bool
    prize: str | None
    can_enter: bool
    closed_reason: str | None


class PrizePublic(BaseModel):
    name: str
    units: int
    left: int  # what can still be won now
    odds: float  # instant win only


class DrawPublic(BaseModel):
    """A draw as one visitor sees it (the embed frame's view): the prizes and what is left,
    their entry and what it won."""

    activity_id: int
    title: str
    mode: DrawMode
    draw_at: datetime | None
    drawn: bool
    open: bool
    closed_reason: str | None
    prizes: list[PrizePublic]
    entries: int
    can_enter: bool
    entered: bool
    entry_id: int | None
    held_for_review: bool
    prize: str | None  # what this visitor won


class WinnerRead(BaseModel):
    entry_id: int
    participant_id: int
    prize_id: int
    prize: str
    won_at: datetime


class DrawResults(BaseModel):
    """The brand's view: prizes and stock, entries, winners, and the draw's proof."""

    activity_id: int
    title: str
    mode: DrawMode
    draw_at: datetime | None
    drawn_at: datetime | None
    commitment: str
    seed: str | None  # only once revealed
    entries: int
    held: int
    prizes: list[PrizeRead]
    winners: list[WinnerRead]


class DrawRecord(BaseModel):
    """Everything needed to check the draw, published on the public page (JSON): the entries
    in order, the prizes as they started, the winners, the commitment and (after) the seed."""

    activity_id: int
    mode: DrawMode
    algorithm: str
    commitment: str
    seed: str | None
    draw_at: datetime | None
    drawn_at: datetime | None
    prizes: list[PrizeRead]
    entries: list[int]
    winners: dict[int, int]  # entry id → prize id
    # Instant draw: entries whose roll picked a shared prize while its stock was empty (the
    # points store had taken the last unit): entry id → prize id.
    missed: dict[int, int] = Field(default_factory=dict)


class DrawUpdate(BaseModel):
    """The texts can be corrected at any time; the rules that entries were made under cannot."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Text | None = None
