"""The erasure record. While `lake_pending` is set it holds the old → new identifiers the lake
rewrite needs (the erased person's actor ids and share codes); the rewrite clears it when the
lake holds none of them any more, so no mapping outlives the work (PRIVACY.md: a kept mapping
would make the events only de-identified)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class Erasure(Base):
    __tablename__ = "privacy_erasures"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    # The erased person's former id: a number that now names nobody (their row is gone).
    person_id: Mapped[int]
    reason: Mapped[str] = mapped_column(String(64))
    erased_at: Mapped[datetime]
    # What was done, by table (counts only).
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    # {"actors": {old: new}, "codes": {old: new}, "participants": {old: new}} until the lake
    # is rewritten, then NULL.
    lake_pending: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    lake_done_at: Mapped[datetime | None]
    lake_bytes_rewritten: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        UniqueConstraint("workspace_id", "person_id"),
        Index("ix_privacy_erasures_lake_done", "lake_done_at"),
    )
