"""The brand table: one row per workspace, and one per campaign that overrides it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class Brand(Base):
    """What the public pages show of the brand. The workspace's row (`campaign_id` NULL) gives
    the defaults; a campaign's row overrides the fields it sets (NULL: the workspace's)."""

    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    # 0 for the workspace's row, else the campaign's id: a plain unique key (NULLs are distinct
    # in a unique constraint, so campaign_id alone cannot keep the workspace's row single).
    scope: Mapped[int]
    name: Mapped[str | None] = mapped_column(String(80))
    # File names under <media_path>/brand/<workspace_id>/ (re-encoded, metadata stripped).
    logo: Mapped[str | None] = mapped_column(String(100))
    cover: Mapped[str | None] = mapped_column(String(100))
    primary_color: Mapped[str | None] = mapped_column(String(7))  # "#rrggbb"
    accent_color: Mapped[str | None] = mapped_column(String(7))
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("workspace_id", "scope"),)
