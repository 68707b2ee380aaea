"""Tables of the webhooks domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base

EventId = BigInteger().with_variant(Integer(), "sqlite")


class WebhookEndpoint(Base):
    """A receiver of a workspace: where to POST, which event kinds, the signing secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(String(200))
    # Needed in the clear to sign each delivery; shown to people once, at creation or rotation.
    secret: Mapped[str] = mapped_column(String(80))
    kinds: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    secret_rotated_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One event for one endpoint (unique: the outbox never enqueues the same pair twice)."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(EventId)
    kind: Mapped[str] = mapped_column(String(48))
    # The body as first built: a re-send sends the same bytes' content even after the event
    # has moved to the lake.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(default=0)
    resends: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_response: Mapped[str | None] = mapped_column(String(500))
    last_error: Mapped[str | None] = mapped_column(String(300))
    last_duration_ms: Mapped[int | None]
    delivered_at: Mapped[datetime | None]
    # A sender claims a delivery by setting a fresh claim token and a lease; only the holder of
    # the token may write the outcome (a re-send in between clears it).
    claim: Mapped[str | None] = mapped_column(String(32))
    locked_until: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
    )


class WebhookCursor(Base):
    """How far the outbox has read the event log."""

    __tablename__ = "webhook_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(EventId)
    updated_at: Mapped[datetime]
