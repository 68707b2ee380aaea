"""The closeness ladder's tallies: people per stage and score point, per scope (issue #19)

Revision ID: 15a4b87eb0ff
Revises: 663cd322db29
Create Date: 2026-12-07 06:25:41
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "15a4b87eb0ff"
down_revision: str | None = "663cd322db29"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ladder_tallies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_ladder_tallies_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ladder_tallies")),
        sa.UniqueConstraint(
            "workspace_id",
            "campaign_id",
            "stage",
            "bucket",
            name=op.f("uq_ladder_tallies_workspace_id_campaign_id_stage_bucket"),
        ),
    )


def downgrade() -> None:
    op.drop_table("ladder_tallies")
