"""segments: facts per person, and the facts job follows merges

Counting a million people cannot join through each person's identities for every rule, so
the facts job keeps the person-level facts too (`segment_person_facts`: first touch and
points; `segment_person_campaigns`: campaigns and activity kinds taken part in), rewritten for
the people a batch of events or a merge (or its undo) touched. The cursor remembers the last
merge seen and when it last looked for undos. Existing rows are filled by the job: its cursor
starts again from the first event, so that every person's facts are written once.

Revision ID: d55a7f65edd3
Revises: e4a7c91b2d30
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import im2.db

revision: str = "d55a7f65edd3"
down_revision: str | None = "e4a7c91b2d30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "segment_person_campaigns",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("activity_kind", sa.String(length=16), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_segment_person_campaigns_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_segment_person_campaigns_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "person_id", "campaign_id", "activity_kind", name=op.f("pk_segment_person_campaigns")
        ),
    )
    op.create_index(
        "ix_segment_person_campaigns_campaign",
        "segment_person_campaigns",
        ["workspace_id", "campaign_id", "person_id"],
        unique=False,
    )
    op.create_index(
        "ix_segment_person_campaigns_kind",
        "segment_person_campaigns",
        ["workspace_id", "activity_kind", "person_id"],
        unique=False,
    )
    op.create_table(
        "segment_person_facts",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("first_channel", sa.String(length=32), nullable=True),
        sa.Column("first_source", sa.String(length=64), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_segment_person_facts_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_segment_person_facts_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_segment_person_facts")),
    )
    op.create_index(
        "ix_segment_person_facts_channel",
        "segment_person_facts",
        ["workspace_id", "first_channel"],
        unique=False,
    )
    op.create_index(
        "ix_segment_person_facts_points",
        "segment_person_facts",
        ["workspace_id", "points"],
        unique=False,
    )
    op.create_index(
        "ix_segment_person_facts_source",
        "segment_person_facts",
        ["workspace_id", "first_source"],
        unique=False,
    )
    with op.batch_alter_table("segment_facts_cursor") as batch:
        batch.add_column(
            sa.Column("last_merge_id", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("checked_at", im2.db.UTCDateTime(timezone=True), nullable=True))
    # Read the log again from the start, so that every person's facts get written.
    op.execute("DELETE FROM segment_facts_cursor")
    op.execute("DELETE FROM segment_actor_campaigns")
    op.execute("DELETE FROM segment_actor_facts")


def downgrade() -> None:
    with op.batch_alter_table("segment_facts_cursor") as batch:
        batch.drop_column("checked_at")
        batch.drop_column("last_merge_id")
    op.drop_index("ix_segment_person_facts_source", table_name="segment_person_facts")
    op.drop_index("ix_segment_person_facts_points", table_name="segment_person_facts")
    op.drop_index("ix_segment_person_facts_channel", table_name="segment_person_facts")
    op.drop_table("segment_person_facts")
    op.drop_index("ix_segment_person_campaigns_kind", table_name="segment_person_campaigns")
    op.drop_index("ix_segment_person_campaigns_campaign", table_name="segment_person_campaigns")
    op.drop_table("segment_person_campaigns")
