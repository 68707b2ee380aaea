"""Tables of the embed domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class EmbedOrigin(Base):
    """A site allowed to frame the workspace's activities (CSP `frame-ancestors`)."""

    __tablename__ = "embed_origins"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    # Normalised: scheme://host[:port], lower case, no default port, no path.
    origin: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("workspace_id", "origin"),)
