"""listening autovacuum after inserts

PostgreSQL only. The listening dashboards read `listening_mentions` and
`listening_topic_matches` through index-only scans, which visit the heap for every page the
visibility map does not yet mark all-visible; only a vacuum sets it. With the server's default
(`autovacuum_vacuum_insert_scale_factor` 0.2, i.e. a vacuum after inserts of a fifth of the
table) the first dashboard after an import of a million mentions fetched 377,455 heap rows and
took 1.13 s instead of 0.2 s. Vacuuming after every 1 % (and at least 10,000 rows) keeps the
map nearly current while mentions stream in. SQLite has nothing of the kind: no-op there.

Revision ID: b2e6f0c4d8a1
Revises: 14623f9451a2
Create Date: 2026-12-05 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "b2e6f0c4d8a1"
down_revision: str | None = "14623f9451a2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("listening_mentions", "listening_topic_matches")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(
            f"ALTER TABLE {table} SET (autovacuum_vacuum_insert_scale_factor = 0.01, "
            "autovacuum_vacuum_insert_threshold = 10000)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(
            f"ALTER TABLE {table} RESET (autovacuum_vacuum_insert_scale_factor, "
            "autovacuum_vacuum_insert_threshold)"
        )
