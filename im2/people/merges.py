"""Merges of two persons and their undo, and the row locks every change of who is who takes.

Every write that changes which person an identity belongs to first locks the person rows it
touches (`SELECT … FOR UPDATE` on PostgreSQL; on SQLite a write transaction holds the one
write lock from BEGIN IMMEDIATE), and follows `merged_into_id` to the live person
(`lock_live`): an identity is never attached to a person that a concurrent transaction has just
merged away.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from im2.errors import Conflict, InvalidInput, NotFound
from im2.i18n import _
from im2.people.consent import merging as consent_merging
from im2.people.models import Person, PersonIdentity, PersonMerge
from im2.people.schemas import ACTOR_KINDS, IdentityKind, MergeRead, MergeReason
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import owned_row, record_audit, require

WRITE_PEOPLE = Permission.WRITE_PEOPLE


def person_in(session: Session, *, workspace_id: int, person_id: int) -> Person | None:
    row = session.get(Person, person_id)
    return row if row is not None and row.workspace_id == workspace_id else None


def merge_read(row: PersonMerge) -> MergeRead:
    return MergeRead(
        id=row.id,
        kept_id=row.kept_id,
        merged_id=row.merged_id,
        reason=MergeReason(row.reason),
        identity_kind=row.identity_kind,
        identity_hint=row.identity_hint,
        moved_identity_ids=[int(i) for i in row.moved_identity_ids],
        moved_participant_ids=[int(i) for i in row.moved_participant_ids],
        actor=row.actor,
        created_at=row.created_at,
        undone_at=row.undone_at,
        undone_by=row.undone_by,
    )


def lock_live(session: Session, person_ids: Iterable[int]) -> dict[int, Person]:
    """The live persons behind `person_ids` (following merges), locked, by the asked id.

    Rows are locked in id order, so two transactions locking overlapping persons queue
    instead of deadlocking (a merge followed to a lower id can still meet one; PostgreSQL
    then fails one transaction, which the caller's request retries as a whole)."""
    wanted = set(person_ids)
    resolved = {pid: pid for pid in wanted}
    while True:
        ids = sorted(set(resolved.values()))
        rows = {
            row.id: row
            for row in session.scalars(
                select(Person)
                .where(Person.id.in_(ids))
                .order_by(Person.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        }
        moved = False
        for asked, current in resolved.items():
            row = rows[current]
            if row.merged_into_id is not None:
                resolved[asked] = row.merged_into_id
                moved = True
        if not moved:
            return {asked: rows[current] for asked, current in resolved.items()}


def merge(
    session: Session,
    *,
    workspace_id: int,
    first: int,
    second: int,
    keep: int | None,
    reason: MergeReason,
    identity_kind: IdentityKind | None,
    identity_hint: str | None,
    actor: str,
    now: datetime,
) -> MergeRead | None:
    """Merge the live persons behind `first` and `second`: the one behind `keep` is kept, else
    the older (first created; the lower id on a tie). None when they are one person already
    (a concurrent merge got there first)."""
    live = lock_live(session, [first, second])
    a, b = live[first], live[second]
    if a.id == b.id:
        return None
    kept = live[keep] if keep is not None else min((a, b), key=lambda p: (p.created_at, p.id))
    merged = b if kept is a else a
    moved = session.execute(
        select(PersonIdentity.id, PersonIdentity.kind, PersonIdentity.value)
        .where(PersonIdentity.person_id == merged.id)
        .order_by(PersonIdentity.id)
    ).all()
    session.execute(
        update(PersonIdentity)
        .where(PersonIdentity.person_id == merged.id)
        .values(person_id=kept.id)
        .execution_options(synchronize_session=False)
    )
    merged.merged_into_id = kept.id
    merged.merged_at = now
    # The merged person's consents follow them (the most recent decision wins; a withdrawal
    # is kept), recorded for the undo.
    consent_moves = consent_merging.follow_merge(
        session, workspace_id=workspace_id, kept_id=kept.id, merged_id=merged.id
    )
    if any(k in {a.value for a in ACTOR_KINDS} for _i, k, _v in moved):
        kept.several_actors = True
    record = PersonMerge(
        workspace_id=workspace_id,
        kept_id=kept.id,
        merged_id=merged.id,
        reason=reason.value,
        identity_kind=None if identity_kind is None else identity_kind.value,
        identity_hint=identity_hint,
        moved_identity_ids=[int(i) for i, _k, _v in moved],
        moved_participant_ids=[int(v) for _i, k, v in moved if k == IdentityKind.PARTICIPANT.value],
        consent_moves=consent_moves,
        actor=actor[:120],
        created_at=now,
    )
    session.add(record)
    session.flush()
    return merge_read(record)


def _several_actors(session: Session, *, person_id: int) -> bool:
    counts = dict(
        session.execute(
            select(PersonIdentity.kind, func.count())
            .where(
                PersonIdentity.person_id == person_id,
                PersonIdentity.kind.in_([k.value for k in ACTOR_KINDS]),
            )
            .group_by(PersonIdentity.kind)
        ).all()
    )
    return any(int(n) > 1 for n in counts.values())


def actor_label(actor: Actor) -> str:
    return f"{actor.type.value}:{actor.id or 0}:{actor.label}"[:120]


def do_merge_people(
    session: Session, *, actor: Actor, person_id: int, into_id: int, now: datetime
) -> MergeRead:
    """The brand merges a person into another (`into_id` is kept). Refused: a person into
    themselves, a person of another workspace, a person already merged away."""
    require(actor, WRITE_PEOPLE)
    source = person_in(session, workspace_id=actor.workspace_id, person_id=person_id)
    if source is None:
        raise NotFound(_("Person not found."))
    if into_id == person_id:
        raise InvalidInput(_("A person cannot be merged into themselves."), field="into")
    target = person_in(session, workspace_id=actor.workspace_id, person_id=into_id)
    if target is None:
        raise InvalidInput(_("There is no such person in this workspace."), field="into")
    live = lock_live(session, [person_id, into_id])
    for asked, row in live.items():
        if row.id != asked:
            raise Conflict(
                _("Person {id} was merged into person {into}; merge that one instead.").format(
                    id=asked, into=row.id
                ),
                field="into" if asked == into_id else None,
            )
    result = merge(
        session,
        workspace_id=actor.workspace_id,
        first=person_id,
        second=into_id,
        keep=into_id,
        reason=MergeReason.MANUAL,
        identity_kind=None,
        identity_hint=None,
        actor=actor_label(actor),
        now=now,
    )
    assert result is not None  # both were live and different, under lock
    record_audit(
        session,
        actor,
        "person.merged",
        ("person", into_id),
        f"merged person {person_id} into {into_id}",
        now=now,
        before={"person": person_id, "identities": result.moved_identity_ids},
        after={"person": into_id, "merge": result.id},
    )
    return result


def do_undo_merge(session: Session, *, actor: Actor, merge_id: int, now: datetime) -> MergeRead:
    """Undo a merge: the identities it moved (those still on the kept person) go back to the
    merged person, who is live again; the merge row records who undid it and when. Refused when
    it was undone already, or when the kept person has since been merged into someone else
    (undo that later merge first)."""
    require(actor, WRITE_PEOPLE)
    record = owned_row(session, PersonMerge, merge_id, actor=actor, missing=_("Merge not found."))
    locked = {
        row.id: row
        for row in session.scalars(
            select(Person)
            .where(Person.id.in_(sorted({record.kept_id, record.merged_id})))
            .order_by(Person.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    session.refresh(record, with_for_update=True)
    if record.undone_at is not None:
        raise Conflict(_("This merge has been undone already."))
    kept, merged = locked[record.kept_id], locked[record.merged_id]
    if kept.merged_into_id is not None or merged.merged_into_id != kept.id:
        raise Conflict(
            _("Person {id} has been merged again since; undo the later merge first.").format(
                id=kept.id
            )
        )
    ids = [int(i) for i in record.moved_identity_ids]
    if ids:
        session.execute(
            update(PersonIdentity)
            .where(PersonIdentity.id.in_(ids), PersonIdentity.person_id == kept.id)
            .values(person_id=merged.id)
            .execution_options(synchronize_session=False)
        )
    consent_merging.undo_merge(
        session, kept_id=kept.id, merged_id=merged.id, moves=record.consent_moves
    )
    merged.merged_into_id = None
    merged.merged_at = None
    for row in (kept, merged):
        row.several_actors = _several_actors(session, person_id=row.id)
    record.undone_at = now
    record.undone_by = actor_label(actor)
    record_audit(
        session,
        actor,
        "person.merge_undone",
        ("person", merged.id),
        f"undid merge {record.id}: person {merged.id} apart from {kept.id} again",
        now=now,
        before={"person": kept.id, "merge": record.id},
        after={"person": merged.id, "identities": ids},
    )
    session.flush()
    return merge_read(record)
