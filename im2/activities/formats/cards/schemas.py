"""Settings, inputs and results of 集卡 (collect the set)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from im2.activities.schemas import GivesConsent, Text, Title
from im2.types import DbId

CardName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
CardKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,24}$")]


class CardSpec(BaseModel):
    """One card of the set: its key, its name and its weight in the draw (the odds of a card
    are its weight over the sum; a rare card has a small weight)."""

    model_config = ConfigDict(extra="forbid")

    key: CardKey
    name: CardName
    weight: int = Field(ge=1, le=1_000_000)


class CardsRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cards: list[CardSpec] = Field(min_length=2, max_length=12)
    set_points: int = Field(default=100, ge=1, le=1_000_000)
    gift_hours: int = Field(default=72, ge=1, le=24 * 30)

    @model_validator(mode="after")
    def _distinct(self) -> CardsRules:
        keys = [c.key for c in self.cards]
        names = [c.name for c in self.cards]
        if len(set(keys)) != len(keys) or len(set(names)) != len(names):
            raise ValueError("each card needs its own name")
        return self


class CardsSettings(CardsRules):
    """`Activity.settings` of a 集卡 activity (the draw's secret seed is a row of its own,
    `models.CardSeed`)."""


class CardsCreate(CardsRules):
    title: Title
    description: Text = ""


class CardOdds(BaseModel):
    key: str
    name: str
    weight: int
    odds: float  # 0..1


class CardCount(BaseModel):
    key: str
    name: str
    drawn: int


class CardsResults(BaseModel):
    """What the console's detail page shows live."""

    activity_id: int
    cards: list[CardCount]
    collectors: int
    gifts_made: int
    gifts_claimed: int
    sets_completed: int


class MyCard(BaseModel):
    item_id: int
    key: str
    name: str
    giftable: bool


class GiftRead(BaseModel):
    code: str
    card_name: str
    expires_at: datetime


class GiftView(BaseModel):
    code: str
    card_name: str
    giver_id: int
    open: bool
    reason: str | None


class CardHeld(BaseModel):
    key: str
    name: str
    odds: float  # 0..1, as published
    count: int  # how many of this card the visitor holds


class CardsPublic(BaseModel):
    """A 集卡 activity as one visitor sees it (the embed frame's view): the set with the odds
    and how many of each card they hold, the cards they may give, their open gift links, the
    set's reward, and a gift offered to them (`?gift=<code>`)."""

    activity_id: int
    title: str
    open: bool
    closed_reason: str | None
    joined: bool
    cards: list[CardHeld]
    giftable: list[MyCard]
    open_gifts: list[GiftRead]
    set_completed: bool
    set_points: int
    offer: GiftView | None


class GiftIn(GivesConsent):
    model_config = ConfigDict(extra="forbid")

    item_id: DbId


class ClaimIn(GivesConsent):
    model_config = ConfigDict(extra="forbid")
