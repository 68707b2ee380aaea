"""listening_mentions: the author as a case-folded handle, indexed, for people's profiles

A person's profile shows the mentions posted by their social accounts. The match compared an
expression of `author` (trimmed, leading @ dropped, lower case), which no index served, so each
profile scanned the workspace's mentions. `author_key` stores that handle, case-folded, at
ingest; existing mentions get it here, computed in Python as ingest computes it
(`im2.listening.people.author_key`, copied: a migration never changes with the code).

Revision ID: e02ddbea5d44
Revises: 29854d10958c
Create Date: 2026-12-07 16:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e02ddbea5d44"
down_revision: str | None = "29854d10958c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AT = "@＠"
CHUNK = 5000


def _key(author: str) -> str:
    return author.strip().lstrip(_AT).strip().casefold()[:200]


def upgrade() -> None:
    with op.batch_alter_table("listening_mentions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("author_key", sa.String(length=200), server_default="", nullable=False)
        )
    mentions = sa.table(
        "listening_mentions",
        sa.column("id", sa.Integer),
        sa.column("author", sa.String),
        sa.column("author_key", sa.String),
    )
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(mentions.c.id, mentions.c.author)
            .where(mentions.c.id > last)
            .order_by(mentions.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        keyed = [{"i": i, "k": _key(author or "")} for i, author in rows if _key(author or "")]
        if keyed:
            bind.execute(
                sa.update(mentions)
                .where(mentions.c.id == sa.bindparam("i"))
                .values(author_key=sa.bindparam("k")),
                keyed,
            )
        last = rows[-1][0]
    op.create_index(
        "ix_listening_mentions_author",
        "listening_mentions",
        ["workspace_id", "platform", "author_key"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_listening_mentions_author", table_name="listening_mentions")
    with op.batch_alter_table("listening_mentions", schema=None) as batch_op:
        batch_op.drop_column("author_key")
