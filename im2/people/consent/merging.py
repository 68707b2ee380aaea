"""Consent records through identity merges, and back through their undo.

When two persons merge, the merged person's consent records move to the kept person, so that
the survivor's state on each purpose is decided by everything both ever said. The rule, per
purpose (docs/privacy.md, "Consent through merges"):

- **the most recent decision wins**: a grant counts at its `granted_at`, a withdrawal at its
  `withdrawn_at`; the latest of all of both persons' decisions decides;
- **a withdrawal is kept**: no withdrawal is ever undone by a merge, and when the latest
  decision is a withdrawal (a grant and a withdrawal at the same moment: the withdrawal), every
  grant still standing on either side is withdrawn too, stamped with that withdrawal's time and
  the channel `merge`. A later grant on either side stands, as it did for that side alone.

What moved and what the merge withdrew is kept on the merge (`person_merges.consent_moves`),
so that undoing the merge gives each person back exactly their own records, in their own state.
Nothing here commits.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from im2.people.consent.models import ConsentRecord
from im2.people.consent.schemas import ConsentChannel


def _latest_withdrawal(rows: list[ConsentRecord]) -> datetime | None:
    """The time of the latest decision on one purpose if that decision is a withdrawal."""
    latest: tuple[datetime, int] | None = None
    for row in rows:
        decisions = [(row.granted_at, 0)]
        if row.withdrawn_at is not None:
            decisions.append((row.withdrawn_at, 1))  # on a tie the withdrawal is the later
        for decision in decisions:
            if latest is None or decision > latest:
                latest = decision
    return latest[0] if latest is not None and latest[1] == 1 else None


def follow_merge(
    session: Session, *, workspace_id: int, kept_id: int, merged_id: int
) -> dict[str, list[int]]:
    """Move the merged person's consent records to the kept person and apply the rule above.
    Returns what the undo needs: `moved` (record ids moved) and `withdrawn` (standing grants
    the rule withdrew)."""
    moved = [
        int(i)
        for i in session.scalars(
            select(ConsentRecord.id)
            .where(
                ConsentRecord.workspace_id == workspace_id,
                ConsentRecord.person_id == merged_id,
            )
            .order_by(ConsentRecord.id)
        )
    ]
    if moved:
        session.execute(
            update(ConsentRecord)
            .where(ConsentRecord.id.in_(moved))
            .values(person_id=kept_id)
            .execution_options(synchronize_session=False)
        )
    rows = session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.workspace_id == workspace_id, ConsentRecord.person_id == kept_id)
        .order_by(ConsentRecord.id)
        .execution_options(populate_existing=True)
    )
    by_purpose: dict[str, list[ConsentRecord]] = defaultdict(list)
    for row in rows:
        by_purpose[row.purpose].append(row)
    withdrawn: list[int] = []
    for purpose_rows in by_purpose.values():
        at = _latest_withdrawal(purpose_rows)
        if at is None:
            continue
        for row in purpose_rows:
            if row.withdrawn_at is None:
                row.withdrawn_at = at
                row.withdrawn_channel = ConsentChannel.MERGE.value
                withdrawn.append(row.id)
    session.flush()
    return {"moved": moved, "withdrawn": sorted(withdrawn)}


def undo_merge(
    session: Session, *, kept_id: int, merged_id: int, moves: dict[str, Any] | None
) -> None:
    """Give back what `follow_merge` did: the grants it withdrew stand again (unless withdrawn
    since by someone, which changed their channel), and the records it moved return to the
    merged person (those still on the kept person)."""
    if not moves:
        return
    withdrawn = [int(i) for i in moves.get("withdrawn") or []]
    moved = [int(i) for i in moves.get("moved") or []]
    if withdrawn:
        session.execute(
            update(ConsentRecord)
            .where(
                ConsentRecord.id.in_(withdrawn),
                ConsentRecord.withdrawn_channel == ConsentChannel.MERGE.value,
            )
            .values(withdrawn_at=None, withdrawn_channel=None)
            .execution_options(synchronize_session=False)
        )
    if moved:
        session.execute(
            update(ConsentRecord)
            .where(ConsentRecord.id.in_(moved), ConsentRecord.person_id == kept_id)
            .values(person_id=merged_id)
            .execution_options(synchronize_session=False)
        )
    session.flush()
