"""cards: 集卡 (collect the set): cards drawn per qualifying event, gifts, completed sets

card_items (one per (activity, source event): the draw is idempotent by event), card_gifts
(one-time codes, a unique code), card_sets (once per person and activity) and the follower's
cursor, card_cursors. New tables only; nothing existing changes.

Revision ID: 716146bf95b4
Revises: f41b81b6db0c
Create Date: 2026-12-07 04:20:03.621141
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import im2.db

revision: str = "716146bf95b4"
down_revision: str | None = "f41b81b6db0c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "card_cursors",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_card_cursors")),
    )
    op.create_table(
        "card_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("card", sa.String(length=24), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("drawn_by_id", sa.Integer(), nullable=False),
        sa.Column("source_event_id", sa.Integer(), nullable=False),
        sa.Column("ticket", sa.String(length=64), nullable=False),
        sa.Column("drawn_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("gift_until", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_card_items_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["drawn_by_id"],
            ["participants.id"],
            name=op.f("fk_card_items_drawn_by_id_participants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["participants.id"],
            name=op.f("fk_card_items_owner_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_items")),
        sa.UniqueConstraint(
            "activity_id", "source_event_id", name=op.f("uq_card_items_activity_id_source_event_id")
        ),
    )
    with op.batch_alter_table("card_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_card_items_activity_owner", ["activity_id", "owner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_card_items_drawn_by_id"), ["drawn_by_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_card_items_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "card_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("completed_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_card_sets_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_card_sets_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_sets")),
        sa.UniqueConstraint(
            "activity_id", "participant_id", name=op.f("uq_card_sets_activity_id_participant_id")
        ),
    )
    with op.batch_alter_table("card_sets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_card_sets_participant_id"), ["participant_id"], unique=False
        )

    op.create_table(
        "card_gifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("giver_id", sa.Integer(), nullable=False),
        sa.Column("share_code", sa.String(length=24), nullable=False),
        sa.Column("created_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_by_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_card_gifts_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["claimed_by_id"],
            ["participants.id"],
            name=op.f("fk_card_gifts_claimed_by_id_participants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["giver_id"],
            ["participants.id"],
            name=op.f("fk_card_gifts_giver_id_participants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["card_items.id"],
            name=op.f("fk_card_gifts_item_id_card_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_gifts")),
        sa.UniqueConstraint("code", name=op.f("uq_card_gifts_code")),
    )
    with op.batch_alter_table("card_gifts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_card_gifts_claimed_by_id"), ["claimed_by_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_card_gifts_giver_id"), ["giver_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("card_gifts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_gifts_giver_id"))
        batch_op.drop_index(batch_op.f("ix_card_gifts_claimed_by_id"))

    op.drop_table("card_gifts")
    with op.batch_alter_table("card_sets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_sets_participant_id"))

    op.drop_table("card_sets")
    with op.batch_alter_table("card_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_items_owner_id"))
        batch_op.drop_index(batch_op.f("ix_card_items_drawn_by_id"))
        batch_op.drop_index("ix_card_items_activity_owner")

    op.drop_table("card_items")
    op.drop_table("card_cursors")
