"""Referral activity: invites, milestones reached, followed share links, the job's cursor

Revision ID: 3f8a2c71e9b4
Revises: 7d4e9a1c2b35
Create Date: 2026-11-22 03:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import im2.db

revision: str = "3f8a2c71e9b4"
down_revision: str | None = "7d4e9a1c2b35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "referral_cursors",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_referral_cursors")),
    )
    op.create_table(
        "referral_clicks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=40), nullable=False),
        sa.Column("sharer_id", sa.Integer(), nullable=False),
        sa.Column("first_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_referral_clicks_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sharer_id"],
            ["participants.id"],
            name=op.f("fk_referral_clicks_sharer_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_clicks")),
        sa.UniqueConstraint(
            "campaign_id",
            "device_id",
            "sharer_id",
            name=op.f("uq_referral_clicks_campaign_id_device_id_sharer_id"),
        ),
    )
    op.create_table(
        "referral_invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("inviter_id", sa.Integer(), nullable=False),
        sa.Column("level2_id", sa.Integer(), nullable=True),
        sa.Column("invitee_id", sa.Integer(), nullable=False),
        sa.Column("share_code", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("joined_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("qualified_at", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("qualified_by", sa.String(length=40), nullable=True),
        sa.Column("qualify_event_id", sa.Integer(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'qualified', 'held', 'voided')",
            name=op.f("ck_referral_invites_status_known"),
        ),
        sa.CheckConstraint("inviter_id <> invitee_id", name=op.f("ck_referral_invites_not_self")),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_referral_invites_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_referral_invites_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invitee_id"],
            ["participants.id"],
            name=op.f("fk_referral_invites_invitee_id_participants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["inviter_id"],
            ["participants.id"],
            name=op.f("fk_referral_invites_inviter_id_participants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["level2_id"],
            ["participants.id"],
            name=op.f("fk_referral_invites_level2_id_participants"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_referral_invites_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_invites")),
        sa.UniqueConstraint(
            "activity_id", "invitee_id", name=op.f("uq_referral_invites_activity_id_invitee_id")
        ),
    )
    with op.batch_alter_table("referral_invites", schema=None) as batch_op:
        batch_op.create_index(
            "ix_referral_invites_activity_joined", ["activity_id", "joined_at"], unique=False
        )
        batch_op.create_index(
            "ix_referral_invites_invitee_status", ["invitee_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_referral_invites_inviter", ["activity_id", "inviter_id", "status"], unique=False
        )

    op.create_table(
        "referral_milestones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("inviter_id", sa.Integer(), nullable=False),
        sa.Column("friends", sa.Integer(), nullable=False),
        sa.Column("reached_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.CheckConstraint("friends >= 1", name=op.f("ck_referral_milestones_friends_positive")),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_referral_milestones_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["inviter_id"],
            ["participants.id"],
            name=op.f("fk_referral_milestones_inviter_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_milestones")),
        sa.UniqueConstraint(
            "activity_id",
            "inviter_id",
            "friends",
            name=op.f("uq_referral_milestones_activity_id_inviter_id_friends"),
        ),
    )


def downgrade() -> None:
    op.drop_table("referral_milestones")
    with op.batch_alter_table("referral_invites", schema=None) as batch_op:
        batch_op.drop_index("ix_referral_invites_inviter")
        batch_op.drop_index("ix_referral_invites_invitee_status")
        batch_op.drop_index("ix_referral_invites_activity_joined")

    op.drop_table("referral_invites")
    op.drop_table("referral_clicks")
    op.drop_table("referral_cursors")
