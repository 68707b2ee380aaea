"""indexes on the participant columns erasure looks up

Erasing people (a deletion request, retention's anonymisation) finds each table's rows by its
participant columns, moves them to the stand-ins, then deletes the former participants, and
the database then looks up every column whose foreign key points at them (ON DELETE CASCADE
or SET NULL). These columns had no index of their own, so each lookup, and each deleted
participant, scanned the whole table: share links, comments, conversions (and their sharer
ids), experiment exposures, group-buy teams, referral invites, milestones and clicks.

Revision ID: 29854d10958c
Revises: 3a9d4c2e7f10
Create Date: 2026-12-07 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "29854d10958c"
down_revision: str | None = "3a9d4c2e7f10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column): the index is named as the models' naming convention names it.
INDEXED = (
    ("share_links", "participant_id"),
    ("comments", "participant_id"),
    ("conversions", "participant_id"),
    ("conversions", "first_touch_sharer_id"),
    ("conversions", "last_touch_sharer_id"),
    ("experiment_exposures", "participant_id"),
    ("groupbuy_teams", "leader_id"),
    ("referral_invites", "inviter_id"),
    ("referral_invites", "level2_id"),
    ("referral_milestones", "inviter_id"),
    ("referral_clicks", "sharer_id"),
)


def upgrade() -> None:
    for table, column in INDEXED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def downgrade() -> None:
    for table, column in reversed(INDEXED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
