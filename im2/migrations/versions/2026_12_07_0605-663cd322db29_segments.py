"""segments: saved, versioned rules over people; members; facts from the event log

A segment (人群) is a named rule over a workspace's people; each edit adds a version (the old
ones stay readable, uses record the version they used). `segment_members` holds the members as
the "entered segment" job last computed them. `segment_actor_facts` and
`segment_actor_campaigns` keep what the event log says about each actor identity (first touch,
points, campaigns and activity kinds taken part in), filled by the facts job from the cursor in
`segment_facts_cursor`: existing events are read by its first runs.

Revision ID: 663cd322db29
Revises: 334291baff0b
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import im2.db

revision: str = "663cd322db29"
down_revision: str | None = "334291baff0b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "segment_facts_cursor",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column(
            "last_event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_segment_facts_cursor")),
    )
    op.create_table(
        "segment_actor_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("identity_kind", sa.String(length=16), nullable=False),
        sa.Column("identity_value", sa.String(length=128), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("activity_kind", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_segment_actor_campaigns_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_actor_campaigns")),
        sa.UniqueConstraint(
            "workspace_id",
            "identity_kind",
            "identity_value",
            "campaign_id",
            "activity_kind",
            name="uq_segment_actor_campaigns_key",
        ),
    )
    op.create_index(
        "ix_segment_actor_campaigns_campaign",
        "segment_actor_campaigns",
        ["workspace_id", "campaign_id"],
        unique=False,
    )
    op.create_index(
        "ix_segment_actor_campaigns_kind",
        "segment_actor_campaigns",
        ["workspace_id", "activity_kind"],
        unique=False,
    )
    op.create_table(
        "segment_actor_facts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("identity_kind", sa.String(length=16), nullable=False),
        sa.Column("identity_value", sa.String(length=128), nullable=False),
        sa.Column("first_at", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_channel", sa.String(length=32), nullable=True),
        sa.Column("first_source", sa.String(length=64), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_segment_actor_facts_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_actor_facts")),
        sa.UniqueConstraint(
            "workspace_id",
            "identity_kind",
            "identity_value",
            name="uq_segment_actor_facts_key",
        ),
    )
    op.create_index(
        "ix_segment_actor_facts_channel",
        "segment_actor_facts",
        ["workspace_id", "first_channel"],
        unique=False,
    )
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("archived_at", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("members_since", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_segments_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_segments_workspace_id_name")),
    )
    op.create_table(
        "segment_members",
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("entered_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_segment_members_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_segment_members_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("segment_id", "person_id", name=op.f("pk_segment_members")),
    )
    op.create_index("ix_segment_members_person", "segment_members", ["person_id"], unique=False)
    op.create_table(
        "segment_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("created_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_segment_versions_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_versions")),
        sa.UniqueConstraint(
            "segment_id", "version", name=op.f("uq_segment_versions_segment_id_version")
        ),
    )


def downgrade() -> None:
    op.drop_table("segment_versions")
    op.drop_index("ix_segment_members_person", table_name="segment_members")
    op.drop_table("segment_members")
    op.drop_table("segments")
    op.drop_index("ix_segment_actor_facts_channel", table_name="segment_actor_facts")
    op.drop_table("segment_actor_facts")
    op.drop_index("ix_segment_actor_campaigns_campaign", table_name="segment_actor_campaigns")
    op.drop_index("ix_segment_actor_campaigns_kind", table_name="segment_actor_campaigns")
    op.drop_table("segment_actor_campaigns")
    op.drop_table("segment_facts_cursor")
