"""Request and response shapes of the lucky draw."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from im2.activities.schemas import Text, Title
from im2.i18n import N_


class DrawMode(StrEnum):
    INSTANT = "instant"
    SCHEDULED = "scheduled"


MODE_LABELS = {
    DrawMode.INSTANT: N_("Instant win: each entry wins with the set odds while stock lasts"),
    DrawMode.SCHEDULED: N_("Scheduled draw among all entrants at a set time"),
}

PrizeName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class PrizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: PrizeName
    stock: int = Field(ge=1, le=1_000_000)
    odds: float = Field(default=0.0, ge=0.0, le=1.0)  # instant win only


class DrawCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Text = ""
    mode: DrawMode = DrawMode.INSTANT
    draw_at: AwareDatetime | None = None  # scheduled draws only
    prizes: list[PrizeIn] = Field(min_length=1, max_length=20)


class EnterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consent: bool = False


class PrizeRead(BaseModel):
    id: int
    name: str
    units: int
    stock: int
    odds: float
    won: int


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


class DrawUpdate(BaseModel):
    """The texts can be corrected at any time; the rules that entries were made under cannot."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Text | None = None
