"""cards: each activity's secret seed moves out of its settings into card_seeds

The seed of 集卡's verifiable draw was kept in `activities.settings`, which the console's API,
the shared editor and a campaign copy all show or carry. It gets a table of its own (one row
per activity); a 集卡 activity made before this revision keeps its seed (moved, then removed
from its settings), so the cards it drew stay verifiable. Downgrade moves it back.

Revision ID: 03e9b6daf283
Revises: 716146bf95b4
Create Date: 2026-12-07 04:35:38.514527
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import im2.db

revision: str = "03e9b6daf283"
down_revision: str | None = "716146bf95b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

activities = sa.table(
    "activities",
    sa.column("id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("settings", sa.JSON()),
)
card_seeds = sa.table(
    "card_seeds",
    sa.column("activity_id", sa.Integer()),
    sa.column("seed", sa.String()),
    sa.column("created_at", im2.db.UTCDateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "card_seeds",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("created_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_card_seeds_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("activity_id", name=op.f("pk_card_seeds")),
    )
    bind = op.get_bind()
    now = datetime.now(UTC)
    rows = bind.execute(
        sa.select(activities.c.id, activities.c.settings).where(activities.c.kind == "cards")
    ).all()
    for activity_id, settings in rows:
        settings = dict(settings or {})
        seed = settings.pop("seed", None)
        if not seed:
            continue
        bind.execute(card_seeds.insert().values(activity_id=activity_id, seed=seed, created_at=now))
        bind.execute(
            activities.update().where(activities.c.id == activity_id).values(settings=settings)
        )


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(activities.c.id, activities.c.settings, card_seeds.c.seed).join(
            card_seeds, card_seeds.c.activity_id == activities.c.id
        )
    ).all()
    for activity_id, settings, seed in rows:
        bind.execute(
            activities.update()
            .where(activities.c.id == activity_id)
            .values(settings={**dict(settings or {}), "seed": seed})
        )
    op.drop_table("card_seeds")
