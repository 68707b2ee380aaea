"""Experiments and their exposures

Revision ID: e4b7c91d2a60
Revises: ca30ef06c874
Create Date: 2026-11-22 03:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import im2.db

revision: str = "e4b7c91d2a60"
down_revision: str | None = "ca30ef06c874"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("goal_kinds", sa.JSON(), nullable=False),
        sa.Column("min_effect", sa.Double(), nullable=False),
        sa.Column("winner", sa.String(length=32), nullable=True),
        sa.Column("created_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("concluded_at", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'running', 'concluded')", name=op.f("ck_experiments_status_known")
        ),
        sa.CheckConstraint(
            "min_effect > 0 AND min_effect <= 10", name=op.f("ck_experiments_min_effect_range")
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_experiments_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_experiments_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_experiments_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
        sa.UniqueConstraint("workspace_id", "key", name=op.f("uq_experiments_workspace_id_key")),
    )
    op.create_index(
        op.f("ix_experiments_campaign_id"), "experiments", ["campaign_id"], unique=False
    )
    op.create_index(
        "ux_experiments_running_activity",
        "experiments",
        ["activity_id"],
        unique=True,
        sqlite_where=sa.text("status = 'running'"),
        postgresql_where=sa.text("status = 'running'"),
    )
    op.create_table(
        "experiment_exposures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=40), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("variant", sa.String(length=32), nullable=False),
        sa.Column("exposed_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_exposures_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_experiment_exposures_participant_id_participants"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiment_exposures")),
        sa.UniqueConstraint(
            "experiment_id",
            "device_id",
            name=op.f("uq_experiment_exposures_experiment_id_device_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("experiment_exposures")
    op.drop_index(
        "ux_experiments_running_activity",
        table_name="experiments",
        sqlite_where=sa.text("status = 'running'"),
        postgresql_where=sa.text("status = 'running'"),
    )
    op.drop_index(op.f("ix_experiments_campaign_id"), table_name="experiments")
    op.drop_table("experiments")
