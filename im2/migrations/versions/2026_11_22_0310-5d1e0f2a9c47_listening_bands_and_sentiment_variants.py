"""Listening: stored LSH band keys (near duplicates across batches) and workspace sentiment
variants retrained from corrections

Revision ID: 5d1e0f2a9c47
Revises: 5e1f0c2a9b7d
Create Date: 2026-11-22 03:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import im2.db

revision: str = "5d1e0f2a9c47"
down_revision: str | None = "5e1f0c2a9b7d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "listening_near_duplicate_bands",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("band_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("group_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_listening_near_duplicate_bands_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "band_key", "group_id", name=op.f("pk_listening_near_duplicate_bands")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "listening_sentiment_variants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("overlay", sa.JSON(), nullable=False),
        sa.Column("corrections", sa.Integer(), nullable=False),
        sa.Column("train_rows", sa.Integer(), nullable=False),
        sa.Column("test_rows", sa.Integer(), nullable=False),
        sa.Column("accuracy_before", sa.Float(), nullable=False),
        sa.Column("accuracy_after", sa.Float(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_listening_sentiment_variants_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listening_sentiment_variants")),
    )
    with op.batch_alter_table("listening_sentiment_variants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_listening_sentiment_variants_ws", ["workspace_id", "id"], unique=False
        )
        batch_op.create_index(
            "uq_listening_sentiment_variants_active",
            ["workspace_id"],
            unique=True,
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        )


def downgrade() -> None:
    with op.batch_alter_table("listening_sentiment_variants", schema=None) as batch_op:
        batch_op.drop_index("uq_listening_sentiment_variants_active")
        batch_op.drop_index("ix_listening_sentiment_variants_ws")
    op.drop_table("listening_sentiment_variants")
    op.drop_table("listening_near_duplicate_bands")
