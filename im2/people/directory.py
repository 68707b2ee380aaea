"""The people list: search, filters and sort, cursor-paginated; tags and attributes."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from im2.pagination import decode_cursor, encode_cursor
from im2.people.models import Person, PersonIdentity
from im2.people.schemas import HASHED_KINDS, PersonPage, PersonSummary
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import require

READ_PEOPLE = Permission.READ_PEOPLE


def list_people(
    session: Session, *, actor: Actor, cursor: str | None = None, limit: int = 20
) -> PersonPage:
    """The workspace's people (not those merged into another), newest first."""
    require(actor, READ_PEOPLE)
    query = select(Person.id, Person.created_at).where(
        Person.workspace_id == actor.workspace_id, Person.merged_into_id.is_(None)
    )
    after_id = decode_cursor(cursor)
    if after_id is not None:
        query = query.where(Person.id < after_id)
    rows = session.execute(query.order_by(Person.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    counts: dict[int, dict[str, int]] = {pid: {} for pid, _c in rows}
    if rows:
        for pid, kind, n in session.execute(
            select(PersonIdentity.person_id, PersonIdentity.kind, func.count())
            .where(PersonIdentity.person_id.in_(list(counts)))
            .group_by(PersonIdentity.person_id, PersonIdentity.kind)
        ):
            counts[pid][kind] = int(n)
    hashed = {k.value for k in HASHED_KINDS}
    return PersonPage(
        items=[
            PersonSummary(
                id=pid,
                created_at=created,
                identities=counts[pid],
                verified=any(kind in hashed for kind in counts[pid]),
            )
            for pid, created in rows
        ],
        next_cursor=encode_cursor(rows[-1][0]) if more and rows else None,
    )
