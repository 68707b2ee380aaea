"""Tables of the participation domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.crypto import IP_PURPOSE, Encrypted, hashed_by, ip_hash
from im2.db import Base


def _first_ip_hash(context: Any) -> str | None:
    """The keyed hash of the first IP of the row being inserted (ORM or Core, one or many)."""
    return ip_hash(context.get_current_parameters().get("first_ip"))


class Participant(Base):
    """One person as a brand knows them: a device first, optionally a verified e-mail/phone."""

    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    device_id: Mapped[str] = mapped_column(String(40))
    nickname: Mapped[str | None] = mapped_column(String(40))
    consent_version: Mapped[str] = mapped_column(String(16))
    consent_at: Mapped[datetime]
    created_at: Mapped[datetime]
    # Personal fields are encrypted at rest (im2/crypto.py, docs/security.md); the first IP is
    # found and counted through its keyed hash, set on insert. Whoever later changes or clears
    # `first_ip` sets `first_ip_hash` too (`im2.crypto.ip_hash`).
    first_ip: Mapped[str | None] = mapped_column(
        Encrypted(), info=hashed_by("first_ip_hash", IP_PURPOSE)
    )
    first_ip_hash: Mapped[str | None] = mapped_column(String(64), default=_first_ip_hash)
    user_agent: Mapped[str | None] = mapped_column(Encrypted())
    first_campaign_id: Mapped[int | None]
    first_channel: Mapped[str | None] = mapped_column(String(32))
    # The share code that brought this person (first touch): the edge of the share tree.
    referred_by: Mapped[str | None] = mapped_column(String(16), index=True)
    verified_email: Mapped[str | None] = mapped_column(Encrypted())
    verified_phone: Mapped[str | None] = mapped_column(Encrypted())
    verified_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("workspace_id", "device_id"),
        Index(
            "ix_participants_workspace_ip_hash_created",
            "workspace_id",
            "first_ip_hash",
            "created_at",
        ),
        # The people console's nickname search: a prefix is a range of this index (text
        # pattern order on PostgreSQL, so LIKE 'prefix%' uses it whatever the collation).
        Index(
            "ix_participants_workspace_nickname",
            "workspace_id",
            "nickname",
            postgresql_ops={"nickname": "text_pattern_ops"},
        ),
    )


class VerificationCode(Base):
    """A one-time code sent to an e-mail address or phone; only its keyed hash is stored."""

    __tablename__ = "participant_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))
    destination: Mapped[str] = mapped_column(Encrypted())
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    consumed_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_participant_codes_participant_created", "participant_id", "created_at"),
    )


class Comment(Base):
    """A participant's comment on a campaign, an activity or a UGC entry."""

    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int]
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(10))
    flag_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    likes: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        Index("ix_comments_target", "target_type", "target_id", "status"),
        Index("ix_comments_campaign_status", "campaign_id", "status"),
    )


class Like(Base):
    """One like per participant and thing liked: the unique index is the rule."""

    __tablename__ = "likes"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int]
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("participant_id", "target_type", "target_id"),)
