"""privacy: data-subject requests, their log, and the workspace's answer period

A request (access/export, correction, deletion, consent withdrawal, restriction) from the
participant's 我的数据 page, the console or the API, with its status, due date and export
file; an append-only log of its steps; and per workspace the days to answer (15 by default,
at most 30) and how long an export can be downloaded (7 days by default).

Revision ID: 54740ec16f3b
Revises: 59534ac4929c
Create Date: 2026-12-07 05:59:39.242297
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import im2.db

revision: str = "54740ec16f3b"
down_revision: str | None = "59534ac4929c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "privacy_settings",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("request_due_days", sa.Integer(), nullable=False),
        sa.Column("export_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_privacy_settings_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_privacy_settings")),
    )
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("verified_at", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("refusal_reason", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("export_path", sa.String(length=500), nullable=True),
        sa.Column("export_bytes", sa.Integer(), nullable=True),
        sa.Column("export_expires_at", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_privacy_requests_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_privacy_requests_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    with op.batch_alter_table("privacy_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_privacy_requests_export_expires", ["export_expires_at"], unique=False
        )
        batch_op.create_index("ix_privacy_requests_person", ["person_id"], unique=False)
        batch_op.create_index(
            "ix_privacy_requests_workspace_status_due",
            ["workspace_id", "status", "due_at"],
            unique=False,
        )

    op.create_table(
        "privacy_request_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["privacy_requests.id"],
            name=op.f("fk_privacy_request_log_request_id_privacy_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_request_log")),
    )
    with op.batch_alter_table("privacy_request_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_privacy_request_log_request_id"), ["request_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("privacy_request_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_privacy_request_log_request_id"))

    op.drop_table("privacy_request_log")
    with op.batch_alter_table("privacy_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_privacy_requests_workspace_status_due")
        batch_op.drop_index("ix_privacy_requests_person")
        batch_op.drop_index("ix_privacy_requests_export_expires")

    op.drop_table("privacy_requests")
    op.drop_table("privacy_settings")
