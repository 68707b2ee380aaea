"""campaigns: the languages a campaign's public pages speak, and its default one

`languages` holds BCP 47 tags (zh-CN, zh-TW, en) comma-separated; `default_language` is one of
them. Every existing campaign speaks Simplified Chinese only, as its pages did until now.

Revision ID: 3a9d4c2e7f10
Revises: 6e1f0b7c9d42
Create Date: 2026-12-07 13:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3a9d4c2e7f10"
down_revision: str | None = "6e1f0b7c9d42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "default_language",
                sa.String(length=8),
                server_default=sa.text("'zh-CN'"),
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column(
                "languages", sa.String(length=32), server_default=sa.text("'zh-CN'"), nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("languages")
        batch_op.drop_column("default_language")
