"""analytics lake marks

Revision ID: face0402c6b3
Revises: 3c07073476da
Create Date: 2026-11-22 00:34:41.926726
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import im2.db

revision: str = "face0402c6b3"
down_revision: str | None = "3c07073476da"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_lake_marks",
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("last_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("moved", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("updated_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("stream", name=op.f("pk_analytics_lake_marks")),
    )


def downgrade() -> None:
    op.drop_table("analytics_lake_marks")
