"""Join codes: six digits per activity for presenter mode's `/j/<code>` (issue #18)

Revision ID: e4a7c91b2d30
Revises: 15a4b87eb0ff
Create Date: 2026-12-07 06:28:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import im2.db

revision: str = "e4a7c91b2d30"
down_revision: str | None = "15a4b87eb0ff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "join_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("created_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_join_codes_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_join_codes_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_join_codes")),
        sa.UniqueConstraint("activity_id", name=op.f("uq_join_codes_activity_id")),
        sa.UniqueConstraint("code", name=op.f("uq_join_codes_code")),
    )
    op.create_index(
        op.f("ix_join_codes_workspace_id"), "join_codes", ["workspace_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_join_codes_workspace_id"), table_name="join_codes")
    op.drop_table("join_codes")
