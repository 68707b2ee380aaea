"""people: the activity kinds each person took part in, as bits, in the segments' index

"Took part in a quiz" was `people.id IN (…segment_person_campaigns…)`: at a million people,
333,000 ids gathered then 333,000 row lookups (1.5 s on SQLite). `activity_kinds` keeps one bit
per kind on the person row, written by the segment facts job with `segment_person_campaigns`,
and `ix_people_segments` holds it, so the count tests it on the entry it scans anyway.
"Verified" gathers the holders of a phone or e-mail from a new index on (workspace, kind,
person) instead of reading each identity row for its person.

The bits (fixed for good; `im2.people.segments.facts.KIND_BITS`): poll 1, quiz 2, survey 4,
qa 8, ugc 16, draw 32, checkin 64, groupbuy 128, referral 256, cards 512. Existing people get
theirs from `segment_person_campaigns` here.

Revision ID: d8b024717e15
Revises: e02ddbea5d44
Create Date: 2026-12-07 16:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d8b024717e15"
down_revision: str | None = "e02ddbea5d44"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("poll", "quiz", "survey", "qa", "ugc", "draw", "checkin", "groupbuy", "referral", "cards")
SEGMENT_COLUMNS = ["workspace_id", "merged_into_id", "restricted_at", "stage", "score"]


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("activity_kinds", sa.Integer(), server_default="0", nullable=False)
        )
    # One bit per kind a person has a row of (each kind counted once, whatever the campaigns).
    bits = " + ".join(
        f"{1 << bit} * max(CASE WHEN s.activity_kind = '{kind}' THEN 1 ELSE 0 END)"
        for bit, kind in enumerate(KINDS)
    )
    op.execute(
        f"UPDATE people SET activity_kinds = (SELECT {bits} FROM segment_person_campaigns s "  # noqa: S608 (fixed text)
        "WHERE s.person_id = people.id) "
        "WHERE id IN (SELECT person_id FROM segment_person_campaigns)"
    )
    op.drop_index("ix_people_segments", table_name="people")
    op.create_index(
        "ix_people_segments",
        "people",
        [*SEGMENT_COLUMNS, "last_seen_at", "activity_kinds"],
        unique=False,
    )
    op.create_index(
        "ix_person_identities_kind_person",
        "person_identities",
        ["workspace_id", "kind", "person_id"],
        unique=False,
    )
    # The planner's statistics for the new column and indexes (a count picks the list it
    # starts from by them). SQLite keeps none until a first ANALYZE: only refreshed if kept.
    bind = op.get_bind()
    kept = (
        bind.dialect.name == "postgresql"
        or bind.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first()
    )
    if kept:
        op.execute("ANALYZE people")
        op.execute("ANALYZE person_identities")


def downgrade() -> None:
    op.drop_index("ix_person_identities_kind_person", table_name="person_identities")
    op.drop_index("ix_people_segments", table_name="people")
    op.create_index(
        "ix_people_segments", "people", [*SEGMENT_COLUMNS, "last_seen_at"], unique=False
    )
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("activity_kinds")
