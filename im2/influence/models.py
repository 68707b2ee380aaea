"""Tables of the influence domain: follow / friend graphs imported per workspace."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class InfluenceGraph(Base):
    """One imported follow or friend list; its edges are in ``influence_edges``."""

    __tablename__ = "influence_graphs"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    filename: Mapped[str] = mapped_column(String(255))
    directed: Mapped[bool] = mapped_column(Boolean)
    nodes: Mapped[int]
    edges: Mapped[int]
    with_probabilities: Mapped[bool] = mapped_column(Boolean)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("workspace_id", "name"),
        CheckConstraint("nodes >= 0 AND edges >= 0", name="counts_not_negative"),
    )


class InfluenceEdge(Base):
    """``src`` can influence ``dst`` (dst follows src); ``prob`` when the file gave one."""

    __tablename__ = "influence_edges"

    id: Mapped[int] = mapped_column(primary_key=True)
    graph_id: Mapped[int] = mapped_column(ForeignKey("influence_graphs.id", ondelete="CASCADE"))
    src: Mapped[str] = mapped_column(String(200))
    dst: Mapped[str] = mapped_column(String(200))
    prob: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        UniqueConstraint("graph_id", "src", "dst"),
        CheckConstraint("prob IS NULL OR (prob >= 0 AND prob <= 1)", name="prob_in_unit_interval"),
        CheckConstraint("src <> dst", name="no_self_loop"),
    )
