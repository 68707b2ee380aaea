"""The `events` table. Append-only: rows are inserted, never updated or deleted by the app.

No foreign keys on purpose: the log outlives the rows it speaks of (and is moved to the lake),
and analytics must be able to read it without joining domain tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base

EventId = BigInteger().with_variant(Integer(), "sqlite")


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime]
    workspace_id: Mapped[int]
    campaign_id: Mapped[int | None]
    activity_id: Mapped[int | None]
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(48))
    channel: Mapped[str | None] = mapped_column(String(32))
    referrer: Mapped[str | None] = mapped_column(String(64))
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        Index("ix_events_workspace_time", "workspace_id", "occurred_at"),
        Index("ix_events_campaign_time", "campaign_id", "occurred_at"),
        Index("ix_events_kind_time", "kind", "occurred_at"),
        # One person's events (their devices' and participants' actor ids): the people
        # console's timeline, an erasure, a data-subject export.
        Index("ix_events_workspace_actor", "workspace_id", "actor_id"),
    )
