"""ugc entry slots: a participant's n-th entry to a contest is unique

Revision ID: a7c3d9e1f245
Revises: 3f8a2c71e9b4
Create Date: 2026-11-22 03:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7c3d9e1f245"
down_revision: str | None = "3f8a2c71e9b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ugc_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slot", sa.Integer(), nullable=True))
    # Existing entries are numbered per participant and contest in the order they came.
    op.execute(
        """
        UPDATE ugc_entries SET slot = (
            SELECT COUNT(*) FROM ugc_entries AS earlier
            WHERE earlier.activity_id = ugc_entries.activity_id
              AND earlier.participant_id = ugc_entries.participant_id
              AND earlier.id <= ugc_entries.id
        )
        """
    )
    with op.batch_alter_table("ugc_entries", schema=None) as batch_op:
        batch_op.alter_column("slot", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_ugc_entries_activity_id_participant_id_slot"),
            ["activity_id", "participant_id", "slot"],
        )


def downgrade() -> None:
    with op.batch_alter_table("ugc_entries", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_ugc_entries_activity_id_participant_id_slot"), type_="unique"
        )
        batch_op.drop_column("slot")
