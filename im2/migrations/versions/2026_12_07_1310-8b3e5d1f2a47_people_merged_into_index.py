"""people: an index on merged_into_id

Deleting a person (an erasure, retention's anonymisation) makes the database look for the
people merged into them (`merged_into_id`, ON DELETE SET NULL); the only index holding the
column starts with `workspace_id`, so each deleted person scanned the whole people table
(retention over 1 M people: minutes in those scans alone).

Revision ID: 8b3e5d1f2a47
Revises: 5c0f3e9a7b21
Create Date: 2026-12-07 13:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "8b3e5d1f2a47"
down_revision: str | None = "5c0f3e9a7b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.create_index("ix_people_merged_into", ["merged_into_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index("ix_people_merged_into")
