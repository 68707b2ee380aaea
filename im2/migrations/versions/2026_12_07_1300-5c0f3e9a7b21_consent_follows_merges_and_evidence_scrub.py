"""Consent records follow identity merges (`person_merges.consent_moves`, what a merge moved
and withdrew, for its undo), and referral anti-abuse evidence without personal values: the
plain IP addresses, user agents and e-mail addresses already stored in held invites, held
rewards and their `reward.held` events are rewritten as `abuse.pair_evidence` writes them now
(an address cut to its network, an e-mail as a keyed hash, the cut user agent dropped).

The rewrite cannot be undone (that is its point): the downgrade only drops the column.

Revision ID: 5c0f3e9a7b21
Revises: 3f7db742aa44
Create Date: 2026-12-07 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from im2.activities.formats.referral.abuse import scrub_details

revision: str = "5c0f3e9a7b21"
down_revision: str | None = "3f7db742aa44"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def scrub_evidence(evidence: Any) -> Any:
    """An evidence object ({"reasons", "details", …}) with its details scrubbed; other values
    as they are."""
    if not isinstance(evidence, dict) or not isinstance(evidence.get("details"), dict):
        return evidence
    details = scrub_details(evidence["details"])
    return evidence if details == evidence["details"] else {**evidence, "details": details}


def _rewrite(bind: sa.engine.Connection, table: str, column: str, where: Any = None) -> int:
    """Scrub `column` (an evidence object, or event properties holding one under "evidence")
    of every row, in batches by id; returns how many rows changed."""
    t = sa.table(
        table, sa.column("id", sa.Integer), sa.column(column, sa.JSON), sa.column("kind", sa.String)
    )
    changed = 0
    last = 0
    while True:
        query = sa.select(t.c.id, t.c[column]).where(t.c.id > last).order_by(t.c.id).limit(BATCH)
        if where is not None:
            query = query.where(t.c.kind == where)
        rows = bind.execute(query).all()
        if not rows:
            return changed
        for row_id, value in rows:
            if column == "properties":
                inner = value.get("evidence") if isinstance(value, dict) else None
                new = scrub_evidence(inner)
                updated = value if new is inner else {**value, "evidence": new}
            else:
                updated = scrub_evidence(value)
            if updated is not value:
                bind.execute(sa.update(t).where(t.c.id == row_id).values({column: updated}))
                changed += 1
        last = rows[-1][0]


def scrub_stored_evidence(bind: sa.engine.Connection) -> int:
    """The data part of the upgrade, on its own (tests run it over rows they wrote)."""
    return (
        _rewrite(bind, "referral_invites", "evidence")
        + _rewrite(bind, "reward_grants", "evidence")
        + _rewrite(bind, "events", "properties", where="reward.held")
    )


def upgrade() -> None:
    op.add_column("person_merges", sa.Column("consent_moves", sa.JSON(), nullable=True))
    scrub_stored_evidence(op.get_bind())


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE person_merges DROP COLUMN consent_moves")
        return
    op.drop_column("person_merges", "consent_moves")
