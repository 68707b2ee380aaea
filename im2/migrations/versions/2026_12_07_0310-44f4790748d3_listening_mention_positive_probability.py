"""listening mentions keep the model's P(positive)

`sentiment_positive_probability` is the calibrated probability that a mention is positive, as
the sentiment model gave it, so a brand can rank mentions by it or choose its own threshold
(the label uses the model's neutral band). Mentions stored before this revision keep NULL:
their texts would have to be scored again, and a migration does not load the model.

Revision ID: 44f4790748d3
Revises: b2e6f0c4d8a1
Create Date: 2026-12-07 03:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "44f4790748d3"
down_revision: str | None = "b2e6f0c4d8a1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("listening_mentions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sentiment_positive_probability", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("listening_mentions", schema=None) as batch_op:
        batch_op.drop_column("sentiment_positive_probability")
