"""Tables of the messaging domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from im2.crypto import Encrypted
from im2.db import Base


class SmsSettings(Base):
    """A workspace's SMS provider account. The secret is encrypted at rest and never shown."""

    __tablename__ = "sms_settings"

    # An integer id like every table with encrypted columns (`im2 keys rotate` walks by id).
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), unique=True
    )
    provider: Mapped[str] = mapped_column(String(16))
    access_key_id: Mapped[str] = mapped_column(String(128))
    access_key_secret: Mapped[str] = mapped_column(Encrypted())
    secret_tail: Mapped[str] = mapped_column(String(4))
    sign_name: Mapped[str] = mapped_column(String(64))
    app_id: Mapped[str | None] = mapped_column(String(32))
    region: Mapped[str | None] = mapped_column(String(32))
    # Template code (Alibaba) or template id (Tencent) per message kind.
    templates: Mapped[dict[str, str]] = mapped_column(JSON)
    daily_cap_per_number: Mapped[int] = mapped_column(default=10)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (CheckConstraint("provider IN ('aliyun', 'tencent')", name="provider"),)


class MessageDelivery(Base):
    """One message to send, and the log of sending it (the outbox a job works through).

    The number (encrypted) and the template's values, which hold the code, are needed in the
    clear only to send: they are cleared once the delivery is final. What stays is the masked
    number for people and its keyed hash for the caps."""

    __tablename__ = "message_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(24))
    destination: Mapped[str | None] = mapped_column(Encrypted())
    destination_hash: Mapped[str] = mapped_column(String(64))
    destination_masked: Mapped[str] = mapped_column(String(24))
    params: Mapped[str | None] = mapped_column(Encrypted())
    provider: Mapped[str] = mapped_column(String(16))
    template: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    # What the provider answered: its status code ("OK", "isv.BUSINESS_LIMIT_CONTROL",
    # "AuthFailure.SignatureFailure"), our reading of it, its request id, its message id
    # (BizId / SerialNo) and the fee it charged (Tencent: billed message count).
    provider_status: Mapped[str | None] = mapped_column(String(80))
    error: Mapped[str | None] = mapped_column(String(300))
    request_id: Mapped[str | None] = mapped_column(String(80))
    biz_id: Mapped[str | None] = mapped_column(String(80))
    fee: Mapped[int | None]
    # A sender claims a delivery with a fresh token and a lease; only the holder records.
    claim: Mapped[str | None] = mapped_column(String(32))
    locked_until: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
        Index("ix_message_deliveries_due", "status", "next_attempt_at"),
        Index("ix_message_deliveries_workspace_created", "workspace_id", "created_at"),
    )
