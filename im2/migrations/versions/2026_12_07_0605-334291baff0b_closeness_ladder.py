"""The closeness ladder: rules, cursor, stages per scope, stage changes, daily flows (issue #19)

Revision ID: 334291baff0b
Revises: c3d8e5f1a2b6
Create Date: 2026-12-07 06:05:08.292881
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import im2.db

revision: str = "334291baff0b"
down_revision: str | None = "c3d8e5f1a2b6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ladder_cursors",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column(
            "last_event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("computed_at", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("full_at", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("full_due", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_ladder_cursors_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_ladder_cursors")),
    )
    op.create_table(
        "ladder_flows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("from_stage", sa.String(length=16), nullable=False),
        sa.Column("to_stage", sa.String(length=16), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_ladder_flows_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ladder_flows")),
        sa.UniqueConstraint(
            "workspace_id",
            "campaign_id",
            "day",
            "from_stage",
            "to_stage",
            name=op.f("uq_ladder_flows_workspace_id_campaign_id_day_from_stage_to_stage"),
        ),
    )
    op.create_table(
        "ladder_rules",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("spreader_min_brought", sa.Integer(), nullable=False),
        sa.Column("advocate_min_campaigns", sa.Integer(), nullable=False),
        sa.Column("advocate_min_weeks", sa.Integer(), nullable=False),
        sa.Column("advocate_min_brought", sa.Integer(), nullable=False),
        sa.Column("updated_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_ladder_rules_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_ladder_rules")),
    )
    op.create_table(
        "ladder_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=72), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("from_stage", sa.String(length=16), nullable=False),
        sa.Column("to_stage", sa.String(length=16), nullable=False),
        sa.Column("changed_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cause", sa.String(length=48), nullable=False),
        sa.Column(
            "cause_event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("recorded_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_ladder_changes_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_ladder_changes_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ladder_changes")),
    )
    with op.batch_alter_table("ladder_changes", schema=None) as batch_op:
        batch_op.create_index("ix_ladder_changes_person", ["person_id"], unique=False)
        batch_op.create_index(
            "ix_ladder_changes_subject", ["workspace_id", "subject"], unique=False
        )

    op.create_table(
        "ladder_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=72), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("last_seen_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("brought", sa.Integer(), nullable=False),
        sa.Column("campaigns", sa.Integer(), nullable=False),
        sa.Column("weeks", sa.Integer(), nullable=False),
        sa.Column("active_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_ladder_states_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_ladder_states_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ladder_states")),
        sa.UniqueConstraint(
            "workspace_id",
            "campaign_id",
            "subject",
            name=op.f("uq_ladder_states_workspace_id_campaign_id_subject"),
        ),
    )
    with op.batch_alter_table("ladder_states", schema=None) as batch_op:
        batch_op.create_index("ix_ladder_states_person", ["person_id"], unique=False)
        batch_op.create_index(
            "ix_ladder_states_scope_score", ["workspace_id", "campaign_id", "score"], unique=False
        )
        batch_op.create_index(
            "ix_ladder_states_scope_stage", ["workspace_id", "campaign_id", "stage"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ladder_states", schema=None) as batch_op:
        batch_op.drop_index("ix_ladder_states_scope_stage")
        batch_op.drop_index("ix_ladder_states_scope_score")
        batch_op.drop_index("ix_ladder_states_person")

    op.drop_table("ladder_states")
    with op.batch_alter_table("ladder_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_ladder_changes_subject")
        batch_op.drop_index("ix_ladder_changes_person")

    op.drop_table("ladder_changes")
    op.drop_table("ladder_rules")
    op.drop_table("ladder_flows")
    op.drop_table("ladder_cursors")
