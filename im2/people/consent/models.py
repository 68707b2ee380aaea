"""Tables of consent by purpose: the workspace's texts and each person's grants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class ConsentText(Base):
    """A version of a workspace's text for one purpose in one language. Rows are only added:
    a record refers to the version it showed, so an old version must stay readable."""

    __tablename__ = "consent_texts"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    version: Mapped[str] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(254))

    __table_args__ = (
        UniqueConstraint("workspace_id", "purpose", "language", "version"),
        Index("ix_consent_texts_current", "workspace_id", "purpose", "language", "id"),
    )


class ConsentRecord(Base):
    """One grant of one purpose by (or for) a person: the exact text version shown (and its
    hash), when, through which channel, by whom (the person or a guardian), and its withdrawal.
    A person holds a purpose while one of their rows for it has no `withdrawn_at`."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )
    purpose: Mapped[str] = mapped_column(String(16))
    version: Mapped[str] = mapped_column(String(24))
    language: Mapped[str | None] = mapped_column(String(8))  # unknown for migrated consents
    text_sha256: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    given_by: Mapped[str] = mapped_column(String(8), default="self")
    under_14: Mapped[bool] = mapped_column(default=False)
    granted_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    withdrawn_channel: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        # The consent condition: who holds a purpose in a workspace (segments, exports).
        Index("ix_consent_records_purpose", "workspace_id", "purpose", "withdrawn_at", "person_id"),
        Index("ix_consent_records_person", "person_id", "purpose"),
        Index("ix_consent_records_participant", "participant_id"),
    )
