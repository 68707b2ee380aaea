"""listening: file imports commit batch by batch, with progress and resume

A mentions file import ran as one transaction (55 s for 220k rows), so every other writer on
SQLite waited for it. It now commits each batch on its own; the import record carries the
file's SHA-256 (a crashed import of the same file resumes after its last committed batch),
its status (running, done, failed) and when it finished. Rows made before this revision were
finished imports: status "done".

Revision ID: 5b2c9e1d7a40
Revises: 03e9b6daf283
Create Date: 2026-12-07 04:58:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import im2.db

revision: str = "5b2c9e1d7a40"
down_revision: str | None = "03e9b6daf283"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("listening_imports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="done", nullable=False)
        )
        batch_op.add_column(sa.Column("finished_at", im2.db.UTCDateTime(), nullable=True))
        batch_op.create_index(
            "ix_listening_imports_ws_sha256", ["workspace_id", "sha256"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("listening_imports", schema=None) as batch_op:
        batch_op.drop_index("ix_listening_imports_ws_sha256")
        batch_op.drop_column("finished_at")
        batch_op.drop_column("status")
        batch_op.drop_column("sha256")
