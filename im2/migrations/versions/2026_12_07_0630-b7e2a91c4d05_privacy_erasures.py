"""privacy erasures: the record of each erased person (idempotency) and the lake's to-do

Revision ID: b7e2a91c4d05
Revises: 28a64eb31618
Create Date: 2026-12-07 06:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import im2.db

revision: str = "b7e2a91c4d05"
down_revision: str | None = "28a64eb31618"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "privacy_erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("erased_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("lake_pending", sa.JSON(), nullable=True),
        sa.Column("lake_done_at", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lake_bytes_rewritten", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_privacy_erasures_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_erasures")),
        sa.UniqueConstraint(
            "workspace_id", "person_id", name=op.f("uq_privacy_erasures_workspace_id_person_id")
        ),
    )
    op.create_index(
        "ix_privacy_erasures_lake_done", "privacy_erasures", ["lake_done_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_privacy_erasures_lake_done", table_name="privacy_erasures")
    op.drop_table("privacy_erasures")
