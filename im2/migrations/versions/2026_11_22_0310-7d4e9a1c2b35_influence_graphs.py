"""influence graphs

Revision ID: 7d4e9a1c2b35
Revises: 5d1e0f2a9c47
Create Date: 2026-11-22 03:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import im2.db

revision: str = "7d4e9a1c2b35"
down_revision: str | None = "5d1e0f2a9c47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "influence_graphs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("directed", sa.Boolean(), nullable=False),
        sa.Column("nodes", sa.Integer(), nullable=False),
        sa.Column("edges", sa.Integer(), nullable=False),
        sa.Column("with_probabilities", sa.Boolean(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "nodes >= 0 AND edges >= 0", name=op.f("ck_influence_graphs_counts_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_influence_graphs_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_influence_graphs")),
        sa.UniqueConstraint(
            "workspace_id", "name", name=op.f("uq_influence_graphs_workspace_id_name")
        ),
    )
    op.create_table(
        "influence_edges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("graph_id", sa.Integer(), nullable=False),
        sa.Column("src", sa.String(length=200), nullable=False),
        sa.Column("dst", sa.String(length=200), nullable=False),
        sa.Column("prob", sa.Float(), nullable=True),
        sa.CheckConstraint("src <> dst", name=op.f("ck_influence_edges_no_self_loop")),
        sa.CheckConstraint(
            "prob IS NULL OR (prob >= 0 AND prob <= 1)",
            name=op.f("ck_influence_edges_prob_in_unit_interval"),
        ),
        sa.ForeignKeyConstraint(
            ["graph_id"],
            ["influence_graphs.id"],
            name=op.f("fk_influence_edges_graph_id_influence_graphs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_influence_edges")),
        sa.UniqueConstraint(
            "graph_id", "src", "dst", name=op.f("uq_influence_edges_graph_id_src_dst")
        ),
    )


def downgrade() -> None:
    op.drop_table("influence_edges")
    op.drop_table("influence_graphs")
