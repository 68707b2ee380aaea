"""Persons and their identities: resolution (identify/alias), merges and their undo.

Every write that changes which person an identity belongs to first locks the person rows it
touches (`SELECT … FOR UPDATE` on PostgreSQL; on SQLite a write transaction holds the one
write lock from BEGIN IMMEDIATE), and follows `merged_into_id` to the live person: an identity
is never attached to a person that a concurrent transaction has just merged away. The unique
(workspace, kind, value) index decides who was first when two transactions add the same
identity; the loser reads the winner's row and merges (docs/people.md).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.errors import Conflict, InvalidInput, NotFound
from im2.i18n import _
from im2.pagination import decode_cursor, encode_cursor
from im2.people.models import Person, PersonIdentity, PersonMerge
from im2.people.schemas import (
    ACTOR_KINDS,
    HASHED_KINDS,
    IdentityKind,
    IdentityRead,
    MergeRead,
    MergeReason,
    PersonPage,
    PersonRead,
    PersonSummary,
)
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

# Reading people is reading personal data (owner and editor; analysts see people only in
# aggregates). Merging and undoing changes who is who.
READ_PEOPLE = Permission.READ_PEOPLE
WRITE_PEOPLE = Permission.WRITE_PEOPLE

# The prefix of a person in analytics' actor mapping ("p:<id>"): never a participant id
# ("129") nor a visitor ("d:<device>").
PERSON_ACTOR_PREFIX = "p:"
VISITOR_ACTOR_PREFIX = "d:"  # im2.participation.schemas.visitor_actor (a layer above)

_KEY_CONTEXT = b"im2/people/identity-lookup/v1"


@lru_cache(maxsize=8)
def _identity_key(secret: str) -> bytes:
    """The lookup key, derived from the settings' secret so that it is never the secret itself
    (the same secret signs cookies and codes)."""
    return hmac.new(secret.encode(), _KEY_CONTEXT, hashlib.sha256).digest()


def identity_hash(*, secret: str, kind: IdentityKind, value: str) -> str:
    """The keyed hash (HMAC-SHA256, hex) stored for a phone or e-mail: equal values of one kind
    give equal hashes, so uniqueness and merges work without keeping the value here. `value`
    must be normalised by the caller (the participation service does)."""
    return hmac.new(
        _identity_key(secret), f"{kind.value}:{value}".encode(), hashlib.sha256
    ).hexdigest()


def mask(kind: IdentityKind, value: str) -> str:
    """What a person may be shown of a phone or e-mail: 138****8000, l***@example.com."""
    if kind is IdentityKind.EMAIL:
        local, _sep, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"[:64]
    if kind is IdentityKind.PHONE:
        return (value[:3] + "****" + value[-4:]) if len(value) > 7 else "****"
    return value[:64]


def _stored(*, secret: str | None, kind: IdentityKind, value: str) -> tuple[str, str | None]:
    """(value, hint) as stored for an identity."""
    if kind in HASHED_KINDS:
        if secret is None:
            raise ValueError("a phone or e-mail identity needs the secret for its hash")
        return identity_hash(secret=secret, kind=kind, value=value), mask(kind, value)
    value = value.strip()
    if not value or len(value) > 128:
        raise InvalidInput(_("The format is not valid."), field="value")
    return value, None


# --- reading ----------------------------------------------------------------------------------


def _identity(
    session: Session, *, workspace_id: int, kind: str, value: str
) -> PersonIdentity | None:
    return session.scalar(
        select(PersonIdentity).where(
            PersonIdentity.workspace_id == workspace_id,
            PersonIdentity.kind == kind,
            PersonIdentity.value == value,
        )
    )


def find_person(
    session: Session,
    *,
    workspace_id: int,
    kind: IdentityKind,
    value: str,
    secret: str | None = None,
) -> int | None:
    """The person holding this identity (a phone or e-mail needs `secret`), else None."""
    stored, _hint = _stored(secret=secret, kind=kind, value=value)
    found = _identity(session, workspace_id=workspace_id, kind=kind.value, value=stored)
    return None if found is None else found.person_id


def person_of_participant(
    session: Session, *, workspace_id: int, participant_id: int
) -> int | None:
    return find_person(
        session,
        workspace_id=workspace_id,
        kind=IdentityKind.PARTICIPANT,
        value=str(participant_id),
    )


def actor_persons(
    session: Session, *, workspace_id: int, everyone: bool = False
) -> list[tuple[str, str]]:
    """(event `actor_id`, person key "p:<id>") for the workspace's people, for analytics to
    count people instead of devices.

    By default only people with more than one device or more than one participant (flagged
    `several_actors`, so this reads their identities only): everyone else already has exactly
    one actor id per kind of event (a visitor's views carry the device, their actions the
    participant), so a distinct count of one kind set is exact without them, and the map stays
    small at a million people. `everyone` gives all of them
    (for a metric that follows one person from viewing to acting)."""
    query = select(PersonIdentity.person_id, PersonIdentity.kind, PersonIdentity.value).where(
        PersonIdentity.workspace_id == workspace_id,
        PersonIdentity.kind.in_([k.value for k in ACTOR_KINDS]),
    )
    if not everyone:
        query = query.where(
            PersonIdentity.person_id.in_(
                select(Person.id).where(
                    Person.workspace_id == workspace_id,
                    Person.several_actors.is_(True),
                    Person.merged_into_id.is_(None),
                )
            )
        )
    return [
        (
            (VISITOR_ACTOR_PREFIX + value) if kind == IdentityKind.DEVICE.value else value,
            f"{PERSON_ACTOR_PREFIX}{person_id}",
        )
        for person_id, kind, value in session.execute(query)
    ]


def _identity_read(row: PersonIdentity) -> IdentityRead:
    hashed = row.kind in {k.value for k in HASHED_KINDS}
    return IdentityRead(
        id=row.id,
        kind=row.kind,
        value=None if hashed else row.value,
        hint=row.hint,
        created_at=row.created_at,
    )


def _merge_read(row: PersonMerge) -> MergeRead:
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


def _person_in(session: Session, *, workspace_id: int, person_id: int) -> Person | None:
    row = session.get(Person, person_id)
    return row if row is not None and row.workspace_id == workspace_id else None


def access_person(session: Session, *, actor: Actor, person_id: int) -> Person:
    require(actor, READ_PEOPLE)
    row = _person_in(session, workspace_id=actor.workspace_id, person_id=person_id)
    if row is None:
        raise NotFound(_("Person not found."))
    return row


def get_person(session: Session, *, actor: Actor, person_id: int) -> PersonRead:
    """The person with their identities and every merge they took part in, newest first. A
    person merged into another is still readable (their merge can be undone from here)."""
    row = access_person(session, actor=actor, person_id=person_id)
    identities = session.scalars(
        select(PersonIdentity).where(PersonIdentity.person_id == row.id).order_by(PersonIdentity.id)
    )
    merges = session.scalars(
        select(PersonMerge)
        .where((PersonMerge.kept_id == row.id) | (PersonMerge.merged_id == row.id))
        .order_by(PersonMerge.id.desc())
    )
    return PersonRead(
        id=row.id,
        created_at=row.created_at,
        merged_into_id=row.merged_into_id,
        merged_at=row.merged_at,
        identities=[_identity_read(i) for i in identities],
        merges=[_merge_read(m) for m in merges],
    )


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


# --- resolution ---------------------------------------------------------------------------------


def _lock_live(session: Session, person_ids: Iterable[int]) -> dict[int, Person]:
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


def _new_person(session: Session, *, workspace_id: int, now: datetime) -> Person:
    person = Person(workspace_id=workspace_id, created_at=now)
    session.add(person)
    session.flush()
    return person


def do_attach_participant(
    session: Session, *, workspace_id: int, participant_id: int, device_id: str, now: datetime
) -> int:
    """The person of a participant just created for `device_id`: the device's person if the
    device is known (e.g. from a CRM import), else a new person; the participant becomes one
    of their identities. Returns the person id."""
    return do_attach_participants(
        session, workspace_id=workspace_id, joined=[(participant_id, device_id)], now=now
    )[participant_id]


def do_attach_participants(
    session: Session,
    *,
    workspace_id: int,
    joined: Sequence[tuple[int, str]],
    now: datetime,
) -> dict[int, int]:
    """`do_attach_participant` for many new (participant id, device id) pairs in a few
    multi-row statements (the vote's group commit joins hundreds at once). Participants that
    already have a person keep it. Returns {participant id: person id}."""
    if not joined:
        return {}
    known: dict[str, int] = {}  # "kind:value" -> person id
    for kind, value, person_id in session.execute(
        select(PersonIdentity.kind, PersonIdentity.value, PersonIdentity.person_id).where(
            PersonIdentity.workspace_id == workspace_id,
            (
                (PersonIdentity.kind == IdentityKind.DEVICE.value)
                & PersonIdentity.value.in_([d for _p, d in joined])
            )
            | (
                (PersonIdentity.kind == IdentityKind.PARTICIPANT.value)
                & PersonIdentity.value.in_([str(p) for p, _d in joined])
            ),
        )
    ):
        known[f"{kind}:{value}"] = person_id
    result: dict[int, int] = {}
    by_device: dict[int, int] = {}  # participant id -> the known device's person
    fresh: list[tuple[int, str]] = []
    for pid, device in joined:
        has = known.get(f"participant:{pid}")
        if has is not None:
            result[pid] = has
        elif f"device:{device}" in known:
            by_device[pid] = known[f"device:{device}"]
        else:
            fresh.append((pid, device))
    identities: list[dict[str, Any]] = []
    if by_device:
        # The device's person may have been merged meanwhile: attach to the live one.
        live = _lock_live(session, set(by_device.values()))
        for pid, person_id in by_device.items():
            result[pid] = live[person_id].id
            live[person_id].several_actors = True
            identities.append(
                {
                    "workspace_id": workspace_id,
                    "person_id": result[pid],
                    "kind": IdentityKind.PARTICIPANT.value,
                    "value": str(pid),
                    "hint": None,
                    "created_at": now,
                }
            )
    if fresh:
        created = session.execute(
            insert(Person).returning(Person.id, sort_by_parameter_order=True),
            [{"workspace_id": workspace_id, "created_at": now} for _p in fresh],
        ).scalars()
        for (pid, device), person_id in zip(fresh, list(created), strict=True):
            result[pid] = person_id
            for kind, value in (
                (IdentityKind.DEVICE, device),
                (IdentityKind.PARTICIPANT, str(pid)),
            ):
                identities.append(
                    {
                        "workspace_id": workspace_id,
                        "person_id": person_id,
                        "kind": kind.value,
                        "value": value,
                        "hint": None,
                        "created_at": now,
                    }
                )
    if identities:
        session.execute(insert(PersonIdentity), identities)
    return result


def _person_for_participant(
    session: Session,
    *,
    workspace_id: int,
    participant_id: int,
    device_id: str | None,
    now: datetime,
) -> int:
    found = person_of_participant(session, workspace_id=workspace_id, participant_id=participant_id)
    if found is not None:
        return found
    if device_id is None:
        raise NotFound(_("Participant not found."))
    return do_attach_participant(
        session,
        workspace_id=workspace_id,
        participant_id=participant_id,
        device_id=device_id,
        now=now,
    )


_REASONS = {
    IdentityKind.PHONE: MergeReason.VERIFIED_PHONE,
    IdentityKind.EMAIL: MergeReason.VERIFIED_EMAIL,
}


def do_add_identity(
    session: Session,
    *,
    workspace_id: int,
    person_id: int,
    kind: IdentityKind,
    value: str,
    secret: str | None,
    actor: str,
    now: datetime,
) -> MergeRead | None:
    """Give the person this identity (a phone or e-mail needs `secret`). When another person
    holds it already, the two are merged, the older one kept, and the merge is returned.

    Safe under concurrency: the person is locked first (so it is live when the identity is
    attached), and when a concurrent transaction added the same identity first the unique
    index refuses this one's row and the winner's person is merged with this one."""
    stored, hint = _stored(secret=secret, kind=kind, value=value)
    person = _lock_live(session, [person_id])[person_id]
    existing = _identity(session, workspace_id=workspace_id, kind=kind.value, value=stored)
    if existing is None:
        try:
            with session.begin_nested():
                session.add(
                    PersonIdentity(
                        workspace_id=workspace_id,
                        person_id=person.id,
                        kind=kind.value,
                        value=stored,
                        hint=hint,
                        created_at=now,
                    )
                )
                if kind in ACTOR_KINDS:
                    person.several_actors = True  # conservative: one more actor id
                session.flush()
            return None
        except IntegrityError:
            # Added by a concurrent transaction that has committed since: read its row.
            existing = _identity(session, workspace_id=workspace_id, kind=kind.value, value=stored)
            assert existing is not None
    if existing.person_id == person.id:
        return None
    return _merge(
        session,
        workspace_id=workspace_id,
        first=person.id,
        second=existing.person_id,
        keep=None,
        reason=_REASONS.get(kind, MergeReason.SHARED_IDENTITY),
        identity_kind=kind,
        identity_hint=hint if hint is not None else stored[:64],
        actor=actor,
        now=now,
    )


def do_verify_identity(
    session: Session,
    *,
    workspace_id: int,
    participant_id: int,
    kind: IdentityKind,
    value: str,
    secret: str,
    now: datetime,
    device_id: str | None = None,
) -> MergeRead | None:
    """A participant verified a phone or e-mail (`value` normalised): it becomes an identity of
    their person, merging them with the person who verified it before (PostHog's identify)."""
    if kind not in HASHED_KINDS:
        raise InvalidInput(_("Choose one of the options."), field="channel")
    person_id = _person_for_participant(
        session,
        workspace_id=workspace_id,
        participant_id=participant_id,
        device_id=device_id,
        now=now,
    )
    return do_add_identity(
        session,
        workspace_id=workspace_id,
        person_id=person_id,
        kind=kind,
        value=value,
        secret=secret,
        actor=f"participant:{participant_id}",
        now=now,
    )


# --- merging ------------------------------------------------------------------------------------


def _merge(
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
    live = _lock_live(session, [first, second])
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
        actor=actor[:120],
        created_at=now,
    )
    session.add(record)
    session.flush()
    return _merge_read(record)


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


def _actor_label(actor: Actor) -> str:
    return f"{actor.type.value}:{actor.id or 0}:{actor.label}"[:120]


def do_merge_people(
    session: Session, *, actor: Actor, person_id: int, into_id: int, now: datetime
) -> MergeRead:
    """The brand merges a person into another (`into_id` is kept). Refused: a person into
    themselves, a person of another workspace, a person already merged away."""
    require(actor, WRITE_PEOPLE)
    source = _person_in(session, workspace_id=actor.workspace_id, person_id=person_id)
    if source is None:
        raise NotFound(_("Person not found."))
    if into_id == person_id:
        raise InvalidInput(_("A person cannot be merged into themselves."), field="into")
    target = _person_in(session, workspace_id=actor.workspace_id, person_id=into_id)
    if target is None:
        raise InvalidInput(_("There is no such person in this workspace."), field="into")
    live = _lock_live(session, [person_id, into_id])
    for asked, row in live.items():
        if row.id != asked:
            raise Conflict(
                _("Person {id} was merged into person {into}; merge that one instead.").format(
                    id=asked, into=row.id
                ),
                field="into" if asked == into_id else None,
            )
    result = _merge(
        session,
        workspace_id=actor.workspace_id,
        first=person_id,
        second=into_id,
        keep=into_id,
        reason=MergeReason.MANUAL,
        identity_kind=None,
        identity_hint=None,
        actor=_actor_label(actor),
        now=now,
    )
    assert result is not None  # both were live and different, under lock
    record_audit(
        session,
        actor=actor,
        workspace_id=actor.workspace_id,
        action="person.merged",
        target_type="person",
        target_id=into_id,
        summary=f"merged person {person_id} into {into_id}",
        before={"person": person_id, "identities": result.moved_identity_ids},
        after={"person": into_id, "merge": result.id},
        now=now,
    )
    return result


def do_undo_merge(session: Session, *, actor: Actor, merge_id: int, now: datetime) -> MergeRead:
    """Undo a merge: the identities it moved (those still on the kept person) go back to the
    merged person, who is live again; the merge row records who undid it and when. Refused when
    it was undone already, or when the kept person has since been merged into someone else
    (undo that later merge first)."""
    require(actor, WRITE_PEOPLE)
    record = session.get(PersonMerge, merge_id)
    if record is None or record.workspace_id != actor.workspace_id:
        raise NotFound(_("Merge not found."))
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
    merged.merged_into_id = None
    merged.merged_at = None
    for row in (kept, merged):
        row.several_actors = _several_actors(session, person_id=row.id)
    record.undone_at = now
    record.undone_by = _actor_label(actor)
    record_audit(
        session,
        actor=actor,
        workspace_id=actor.workspace_id,
        action="person.merge_undone",
        target_type="person",
        target_id=merged.id,
        summary=f"undid merge {record.id}: person {merged.id} apart from {kept.id} again",
        before={"person": kept.id, "merge": record.id},
        after={"person": merged.id, "identities": ids},
        now=now,
    )
    session.flush()
    return _merge_read(record)


def count_people(session: Session, *, workspace_id: int) -> int:
    """Live persons of the workspace."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Person)
            .where(Person.workspace_id == workspace_id, Person.merged_into_id.is_(None))
        )
        or 0
    )
