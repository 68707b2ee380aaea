"""experiments: an audience segment (only its people take part)

An experiment may name a segment whose people alone are assigned and exposed, and the version
of it recorded when it was set. Existing experiments have none: every visitor takes part.

Revision ID: d420e5ec6234
Revises: ecdd9e492a8d
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d420e5ec6234"
down_revision: str | None = "ecdd9e492a8d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs: no foreign key (segments are archived, never deleted; SQLite would
    # rebuild the table for one).
    op.add_column("experiments", sa.Column("audience_segment_id", sa.Integer(), nullable=True))
    op.add_column("experiments", sa.Column("audience_segment_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("audience_segment_version")
        batch.drop_column("audience_segment_id")
