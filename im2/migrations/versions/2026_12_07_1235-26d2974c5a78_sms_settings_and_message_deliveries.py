"""SMS settings per workspace and the message delivery outbox/log (issue 22).

`sms_settings.access_key_secret`, `message_deliveries.destination` and `.params` are
`im2.crypto.Encrypted` in the models: a Fernet token in a VARCHAR without a length.

Revision ID: 26d2974c5a78
Revises: 9e1a7c3b5d20
Create Date: 2026-12-07 12:35:21.042424
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import im2.db

revision: str = "26d2974c5a78"
down_revision: str | None = "9e1a7c3b5d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sms_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("access_key_id", sa.String(length=128), nullable=False),
        sa.Column("access_key_secret", sa.String(), nullable=False),
        sa.Column("secret_tail", sa.String(length=4), nullable=False),
        sa.Column("sign_name", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=True),
        sa.Column("region", sa.String(length=32), nullable=True),
        sa.Column("templates", sa.JSON(), nullable=False),
        sa.Column("daily_cap_per_number", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "provider IN ('aliyun', 'tencent')", name=op.f("ck_sms_settings_provider")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_sms_settings_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_settings")),
        sa.UniqueConstraint("workspace_id", name=op.f("uq_sms_settings_workspace_id")),
    )
    op.create_table(
        "message_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("destination", sa.String(), nullable=True),
        sa.Column("destination_hash", sa.String(length=64), nullable=False),
        sa.Column("destination_masked", sa.String(length=24), nullable=False),
        sa.Column("params", sa.String(), nullable=True),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("provider_status", sa.String(length=80), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("request_id", sa.String(length=80), nullable=True),
        sa.Column("biz_id", sa.String(length=80), nullable=True),
        sa.Column("fee", sa.Integer(), nullable=True),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.Column("locked_until", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_message_deliveries_status")
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_message_deliveries_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_message_deliveries_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_deliveries")),
    )
    with op.batch_alter_table("message_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_message_deliveries_due", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_message_deliveries_participant_id"), ["participant_id"], unique=False
        )
        batch_op.create_index(
            "ix_message_deliveries_workspace_created", ["workspace_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("message_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_message_deliveries_workspace_created")
        batch_op.drop_index(batch_op.f("ix_message_deliveries_participant_id"))
        batch_op.drop_index("ix_message_deliveries_due")
    op.drop_table("message_deliveries")
    op.drop_table("sms_settings")
