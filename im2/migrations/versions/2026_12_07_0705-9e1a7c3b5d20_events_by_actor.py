"""events: an index by workspace and actor id

One person's events are the events of their actor ids (devices and participants): the people
console's timeline, an erasure and a data-subject export look them up by actor id, which
scanned the workspace's events without this index.

Revision ID: 9e1a7c3b5d20
Revises: d420e5ec6234
Create Date: 2026-12-07 07:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "9e1a7c3b5d20"
down_revision: str | None = "d420e5ec6234"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_workspace_actor", ["workspace_id", "actor_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_workspace_actor")
