"""Tables of the lucky draw: the draw's secret and schedule, its prizes, and the entries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class Draw(Base):
    __tablename__ = "draws"

    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True
    )
    mode: Mapped[str] = mapped_column(String(16))  # "instant" or "scheduled"
    draw_at: Mapped[datetime | None]
    # 32 random bytes (hex); shown only once the draw is done. Its SHA-256 is public from the
    # start, so the brand cannot swap it for one that favours somebody.
    seed: Mapped[str] = mapped_column(String(64))
    commitment: Mapped[str] = mapped_column(String(64))
    drawn_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_draws_due", "mode", "drawn_at", "draw_at"),)


class DrawPrize(Base):
    __tablename__ = "draw_prizes"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(80))
    units: Mapped[int]  # the stock the draw started with (published)
    stock: Mapped[int]  # what is left; the database refuses a negative value
    odds: Mapped[float] = mapped_column(default=0.0)
    # A campaign prize of the incentives domain whose stock this draw prize shares with the
    # points store; None for a draw-only prize. A win then also takes a unit of that stock (an
    # instant draw, live) or of the units reserved for a scheduled draw when it was created.
    prize_id: Mapped[int | None] = mapped_column(
        ForeignKey("prizes.id", ondelete="SET NULL"), index=True
    )

    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("stock <= units", name="stock_within_units"),
    )


class DrawEntry(Base):
    __tablename__ = "draw_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    held: Mapped[bool] = mapped_column(default=False)
    risk_reasons: Mapped[str | None] = mapped_column(String(500))
    prize_id: Mapped[int | None] = mapped_column(ForeignKey("draw_prizes.id", ondelete="SET NULL"))
    won_at: Mapped[datetime | None]
    # Instant draw: the shared prize this entry's roll picked while its shared stock was empty
    # (the store had taken the last unit). Published, so a verifier sees why it did not win.
    missed_prize_id: Mapped[int | None] = mapped_column(
        ForeignKey("draw_prizes.id", ondelete="SET NULL")
    )

    __table_args__ = (
        UniqueConstraint("activity_id", "participant_id"),
        Index("ix_draw_entries_activity_prize", "activity_id", "prize_id"),
    )
