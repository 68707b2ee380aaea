"""Tables of experiments: the experiment with its variants, and who has seen which variant.

Assignment itself needs no table (it is a hash of the experiment key and the visitor); the
exposure row only makes "exposed once per person" a fact the database enforces.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class Experiment(Base):
    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # [{"key", "name", "weight", "payload": {"title", "description", "button_text",
    # "reward_level"}}, ...]; the first variant is the control.
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    goal_kinds: Mapped[list[str]] = mapped_column(JSON)
    min_effect: Mapped[float] = mapped_column(default=0.2)
    winner: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    concluded_at: Mapped[datetime | None]
    # Only this segment's people take part (im2/people/segments), as of the version recorded.
    audience_segment_id: Mapped[int | None]
    audience_segment_version: Mapped[int | None]

    __table_args__ = (
        UniqueConstraint("workspace_id", "key"),
        CheckConstraint("status IN ('draft', 'running', 'concluded')", name="status_known"),
        CheckConstraint("min_effect > 0 AND min_effect <= 10", name="min_effect_range"),
        # At most one running experiment per activity: a visitor sees one variant, not two.
        Index(
            "ux_experiments_running_activity",
            "activity_id",
            unique=True,
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
    )


class ExperimentExposure(Base):
    __tablename__ = "experiment_exposures"

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    device_id: Mapped[str] = mapped_column(String(40))
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL"), index=True
    )
    variant: Mapped[str] = mapped_column(String(32))
    exposed_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("experiment_id", "device_id"),)
