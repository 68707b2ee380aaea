"""Tables of retention: the policy of each workspace and the record of each run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class RetentionPolicy(Base):
    """How long a workspace keeps what. A limit left empty is not enforced. A workspace
    without a row keeps everything (nothing is deleted before the brand decides)."""

    __tablename__ = "retention_policies"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    # People with no activity for this many days are anonymised (erasure's anonymiser).
    inactive_days: Mapped[int | None]
    # Raw IPs older than this many days (the risk window) are cleared: "none" keeps nothing of
    # them (the only value offered, see `schemas.IpKeep`).
    ip_days: Mapped[int | None]
    ip_keep: Mapped[str] = mapped_column(String(8), default="none")
    # UGC media files are deleted this many days after their campaign ended.
    media_days: Mapped[int | None]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(254))


class RetentionRun(Base):
    """One run of the retention job over one workspace: what it did, and what failed."""

    __tablename__ = "retention_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    people_anonymised: Mapped[int] = mapped_column(default=0)
    ips_truncated: Mapped[int] = mapped_column(default=0)
    media_deleted: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)
    # The first failures, one line each (type and words), for the console.
    errors: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10))  # running, done, failed

    __table_args__ = (Index("ix_retention_runs_workspace_started", "workspace_id", "started_at"),)
