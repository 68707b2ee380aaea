"""consent by purpose, retention policies and runs, the minors gate of campaigns

Consent texts (versioned per workspace, purpose and language) and consent records (per person
and purpose: the text version shown, time, channel, who gave it, withdrawal). Every existing
participant's consent becomes a "taking part" record of their person, with the version they
agreed to (`participants.consent_version`), its time, and the channel `migration` (the language
they saw was not kept). A workspace's retention policy and the record of retention runs.
Campaigns get `minors_gate` (off for every existing campaign).

Revision ID: c3d8e5f1a2b6
Revises: b7e2a91c4d05
Create Date: 2026-12-07 06:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import im2.db

revision: str = "c3d8e5f1a2b6"
down_revision: str | None = "b7e2a91c4d05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consent_texts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("version", sa.String(length=24), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_consent_texts_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_texts")),
        sa.UniqueConstraint(
            "workspace_id",
            "purpose",
            "language",
            "version",
            name=op.f("uq_consent_texts_workspace_id_purpose_language_version"),
        ),
    )
    with op.batch_alter_table("consent_texts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consent_texts_current", ["workspace_id", "purpose", "language", "id"], unique=False
        )
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=24), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("text_sha256", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("given_by", sa.String(length=8), nullable=False),
        sa.Column("under_14", sa.Boolean(), nullable=False),
        sa.Column("granted_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_channel", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_consent_records_participant_id_participants"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_consent_records_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_consent_records_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.create_index("ix_consent_records_participant", ["participant_id"], unique=False)
        batch_op.create_index("ix_consent_records_person", ["person_id", "purpose"], unique=False)
        batch_op.create_index(
            "ix_consent_records_purpose",
            ["workspace_id", "purpose", "withdrawn_at", "person_id"],
            unique=False,
        )
    op.create_table(
        "retention_policies",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("inactive_days", sa.Integer(), nullable=True),
        sa.Column("ip_days", sa.Integer(), nullable=True),
        sa.Column("ip_keep", sa.String(length=8), nullable=False),
        sa.Column("media_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=254), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_retention_policies_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_retention_policies")),
    )
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("started_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("people_anonymised", sa.Integer(), nullable=False),
        sa.Column("ips_truncated", sa.Integer(), nullable=False),
        sa.Column("media_deleted", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_retention_runs_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
    )
    with op.batch_alter_table("retention_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_retention_runs_workspace_started", ["workspace_id", "started_at"], unique=False
        )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("minors_gate", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    # Every participant agreed to take part when they joined: their person's first record.
    op.execute(
        """
        INSERT INTO consent_records (workspace_id, person_id, participant_id, purpose, version,
            language, text_sha256, channel, given_by, under_14, granted_at)
        SELECT p.workspace_id, i.person_id, p.id, 'taking_part', p.consent_version,
            NULL, NULL, 'migration', 'self', FALSE, p.consent_at
        FROM participants p
        JOIN person_identities i ON i.workspace_id = p.workspace_id
            AND i.kind = 'participant' AND i.value = CAST(p.id AS VARCHAR(128))
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("minors_gate")
    with op.batch_alter_table("retention_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_retention_runs_workspace_started")
    op.drop_table("retention_runs")
    op.drop_table("retention_policies")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_records_purpose")
        batch_op.drop_index("ix_consent_records_person")
        batch_op.drop_index("ix_consent_records_participant")
    op.drop_table("consent_records")
    with op.batch_alter_table("consent_texts", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_texts_current")
    op.drop_table("consent_texts")
