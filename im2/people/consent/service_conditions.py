"""The consent conditions other work filters by (segments, exports, the webhook outbox).
See `im2.people.consent.service`."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from im2.people.consent.models import ConsentRecord
from im2.people.consent.schemas import Purpose
from im2.people.models import Person, PersonIdentity
from im2.people.schemas import IdentityKind


def active(workspace_id: int, purpose: Purpose) -> ColumnElement[bool]:
    """The standing (not withdrawn) grants of `purpose` in the workspace."""
    return and_(
        ConsentRecord.workspace_id == workspace_id,
        ConsentRecord.purpose == purpose.value,
        ConsentRecord.withdrawn_at.is_(None),
    )


def consented(session: Session, *, workspace_id: int, purpose: Purpose) -> ColumnElement[bool]:
    """A condition on `people.id` (use it in a query over `people`): true for people who have
    not withdrawn `purpose` (a withdrawal followed by a new grant counts as consent again).
    Segments (profiling), exports and the webhook outbox (third parties) filter by it."""
    del session  # the condition is built, not run; the session keeps callers' code uniform
    withdrawn = select(ConsentRecord.person_id).where(
        ConsentRecord.workspace_id == workspace_id,
        ConsentRecord.purpose == purpose.value,
        ConsentRecord.withdrawn_at.is_not(None),
    )
    regranted = exists().where(active(workspace_id, purpose), ConsentRecord.person_id == Person.id)
    return ~Person.id.in_(withdrawn) | regranted


def granted(session: Session, *, workspace_id: int, purpose: Purpose) -> ColumnElement[bool]:
    """A condition on `people.id`: true for people holding a standing grant of `purpose` (what
    contacting someone for marketing needs: a yes, not only the absence of a no)."""
    del session
    return exists().where(active(workspace_id, purpose), ConsentRecord.person_id == Person.id)


def withdrawn_people(
    session: Session, *, workspace_id: int, purpose: Purpose, person_ids: Iterable[int]
) -> set[int]:
    """Which of these people have withdrawn `purpose` (for filters that hold ids, not SQL)."""
    ids = sorted(set(person_ids))
    if not ids:
        return set()
    return set(
        session.scalars(
            select(Person.id).where(
                Person.workspace_id == workspace_id,
                Person.id.in_(ids),
                ~consented(session, workspace_id=workspace_id, purpose=purpose),
            )
        )
    )


def withdrawn_participants(
    session: Session, *, workspace_id: int, purpose: Purpose, participant_ids: Iterable[int]
) -> set[int]:
    """Which of these participants belong to a person who withdrew `purpose` or whose
    processing is restricted: the webhook outbox sends nothing about them."""
    values = sorted({str(p) for p in participant_ids})
    if not values:
        return set()
    rows = session.execute(
        select(PersonIdentity.value)
        .join(Person, Person.id == PersonIdentity.person_id)
        .where(
            PersonIdentity.workspace_id == workspace_id,
            PersonIdentity.kind == IdentityKind.PARTICIPANT.value,
            PersonIdentity.value.in_(values),
            ~consented(session, workspace_id=workspace_id, purpose=purpose)
            | Person.restricted_at.is_not(None),
        )
    ).all()
    return {int(v) for (v,) in rows}


def withheld_from_receivers(
    session: Session, workspace_id: int, participant_ids: set[int]
) -> set[int]:
    """The webhook outbox's check (registered in `im2/jobs.py`): participants whose events are
    not sent to receivers (sharing with third parties withdrawn, or processing restricted)."""
    return withdrawn_participants(
        session,
        workspace_id=workspace_id,
        purpose=Purpose.THIRD_PARTY,
        participant_ids=participant_ids,
    )
