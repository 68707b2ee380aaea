"""embed origins: the sites allowed to frame a workspace's activities

Revision ID: 73cbd388a768
Revises: 26d2974c5a78
Create Date: 2026-12-07 12:35:58.639956
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import im2.db

revision: str = "73cbd388a768"
down_revision: str | None = "26d2974c5a78"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "embed_origins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=255), nullable=False),
        sa.Column("created_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_embed_origins_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_embed_origins")),
        sa.UniqueConstraint(
            "workspace_id", "origin", name=op.f("uq_embed_origins_workspace_id_origin")
        ),
    )


def downgrade() -> None:
    op.drop_table("embed_origins")
