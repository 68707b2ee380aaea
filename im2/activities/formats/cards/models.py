"""Tables of 集卡 (collect the set)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class CardSeed(Base):
    """The secret of an activity's verifiable draw (`core`), a row of its own so that it is in
    no settings the console's API, editor or campaign copy would show or carry."""

    __tablename__ = "card_seeds"

    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True
    )
    seed: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class CardItem(Base):
    """One card: drawn for one qualifying event (`source_event_id`, once per activity), held by
    `owner_id`, which a claimed gift changes. `gift_until` is set while a gift of it is open:
    the card cannot be gifted again before then (one conditional UPDATE decides a race)."""

    __tablename__ = "card_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    card: Mapped[str] = mapped_column(String(24))
    owner_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    drawn_by_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    source_event_id: Mapped[int]
    ticket: Mapped[str] = mapped_column(String(64))  # HMAC(seed, event id): the audit trail
    drawn_at: Mapped[datetime]
    gift_until: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("activity_id", "source_event_id"),
        Index("ix_card_items_activity_owner", "activity_id", "owner_id"),
    )


class CardGift(Base):
    """A card offered through a one-time link; `share_code` is the giver's share link code, so
    the friend who claims it arrives through the normal sharing path."""

    __tablename__ = "card_gifts"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("card_items.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(24), unique=True)
    giver_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    share_code: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    claimed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    claimed_at: Mapped[datetime | None]


class CardSet(Base):
    """A completed set: once per person and activity (the unique key), with the points paid."""

    __tablename__ = "card_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    points: Mapped[int]
    completed_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("activity_id", "participant_id"),)


class CardCursor(Base):
    """How far the card draw has followed the event log (one row)."""

    __tablename__ = "card_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime]
