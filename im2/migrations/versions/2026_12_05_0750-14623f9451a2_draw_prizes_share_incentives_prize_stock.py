"""draw prizes share incentives prize stock

A draw prize may be backed by a campaign prize of the incentives domain (`draw_prizes.prize_id`),
so draw wins and points-store purchases take from one stock. Units a scheduled draw has promised
are held in `prizes.reserved`; a prize claim records where it came from (`source`: grant or draw);
an instant-draw entry whose pick found the shared stock empty names that prize
(`draw_entries.missed_prize_id`). Existing draw prizes stay draw-only (NULL).

Revision ID: 14623f9451a2
Revises: a7c3d9e1f245
Create Date: 2026-12-05 07:50:31
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "14623f9451a2"
down_revision: str | None = "a7c3d9e1f245"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("prizes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reserved", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_check_constraint(
            batch_op.f("ck_prizes_reserved_not_negative"), "reserved >= 0"
        )

    with op.batch_alter_table("prize_claims", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=8), server_default="grant", nullable=False)
        )

    with op.batch_alter_table("draw_prizes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prize_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_draw_prizes_prize_id"), ["prize_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_draw_prizes_prize_id_prizes"),
            "prizes",
            ["prize_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("draw_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("missed_prize_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_draw_entries_missed_prize_id_draw_prizes"),
            "draw_prizes",
            ["missed_prize_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("draw_entries", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_draw_entries_missed_prize_id_draw_prizes"), type_="foreignkey"
        )
        batch_op.drop_column("missed_prize_id")

    with op.batch_alter_table("draw_prizes", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_draw_prizes_prize_id_prizes"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_draw_prizes_prize_id"))
        batch_op.drop_column("prize_id")

    with op.batch_alter_table("prize_claims", schema=None) as batch_op:
        batch_op.drop_column("source")

    # Units still reserved for scheduled draws go back to the stock they came from.
    op.execute("UPDATE prizes SET stock = stock + reserved WHERE reserved > 0")
    with op.batch_alter_table("prizes", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_prizes_reserved_not_negative"), type_="check")
        batch_op.drop_column("reserved")
