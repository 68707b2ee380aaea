"""campaigns: eligibility by segment (only a segment's people may take part)

A campaign may name a segment whose people alone may take part, and the version of it that
was current when it was set. Existing campaigns name none: everyone may take part.

Revision ID: a6a13c2389d0
Revises: d55a7f65edd3
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a6a13c2389d0"
down_revision: str | None = "d55a7f65edd3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs (no foreign key: SQLite would rebuild the table, which many rows
    # refer to; segments are archived, never deleted).
    op.add_column("campaigns", sa.Column("eligible_segment_id", sa.Integer(), nullable=True))
    op.add_column("campaigns", sa.Column("eligible_segment_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("eligible_segment_version")
        batch.drop_column("eligible_segment_id")
