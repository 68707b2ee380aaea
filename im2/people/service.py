"""Persons and their identities: the people domain's facade for its routes, its jobs and every
other domain (they import this module and `schemas`, never the modules behind it).

- here: resolution (identify/alias): a participant's person, verified phones and e-mails,
  shared identities, and the actor map analytics counts people with;
- `identities`: the keyed hash of a phone or e-mail, its masked hint;
- `merges`: merges, their undo, and the row locks every change of who is who takes;
- `directory`: the people list (search, filters, sort), tags and attributes;
- `timeline`: a person's events across campaigns; `io`: import and export of people.

Every write that changes which person an identity belongs to first locks the person rows it
touches (`merges.lock_live`) and follows `merged_into_id` to the live person. The unique
(workspace, kind, value) index decides who was first when two transactions add the same
identity; the loser reads the winner's row and merges (docs/people.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.db import insert_ids
from im2.errors import InvalidInput, NotFound
from im2.i18n import _
from im2.people.directory import NO_SOURCES, PeopleSources, list_people, nicknames_of, points_of
from im2.people.identities import identity_hash, identity_read, mask, stored_identity
from im2.people.merges import (
    actor_label,
    do_merge_people,
    do_undo_merge,
    lock_live,
    merge,
    merge_read,
    person_in,
)
from im2.people.models import Person, PersonAttribute, PersonIdentity, PersonMerge, PersonTag
from im2.people.schemas import (
    ACTOR_KINDS,
    HASHED_KINDS,
    SOCIAL_KINDS,
    IdentityKind,
    MergeRead,
    MergeReason,
    PersonRead,
    TagRead,
)
from im2.people.tags import do_add_tag, do_remove_tag
from im2.people.timeline import get_timeline
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

__all__ = [
    "NO_SOURCES",
    "PERSON_ACTOR_PREFIX",
    "READ_PEOPLE",
    "VISITOR_ACTOR_PREFIX",
    "WRITE_PEOPLE",
    "PeopleSources",
    "access_person",
    "actor_persons",
    "count_people",
    "do_add_account",
    "do_add_identity",
    "do_add_tag",
    "do_attach_participant",
    "do_attach_participants",
    "do_identify_device",
    "do_merge_people",
    "do_remove_tag",
    "do_undo_merge",
    "do_verify_identity",
    "find_person",
    "get_person",
    "get_timeline",
    "identity_hash",
    "list_people",
    "mask",
    "person_of_participant",
]

# Reading people is reading personal data (owner and editor; analysts see people only in
# aggregates). Merging and undoing changes who is who.
READ_PEOPLE = Permission.READ_PEOPLE
WRITE_PEOPLE = Permission.WRITE_PEOPLE

# The prefix of a person in analytics' actor mapping ("p:<id>"): never a participant id
# ("129") nor a visitor ("d:<device>").
PERSON_ACTOR_PREFIX = "p:"
VISITOR_ACTOR_PREFIX = "d:"  # im2.participation.schemas.visitor_actor (a layer above)


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
    stored, _hint = stored_identity(secret=secret, kind=kind, value=value)
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


def access_person(session: Session, *, actor: Actor, person_id: int) -> Person:
    require(actor, READ_PEOPLE)
    row = person_in(session, workspace_id=actor.workspace_id, person_id=person_id)
    if row is None:
        raise NotFound(_("Person not found."))
    return row


def get_person(
    session: Session, *, actor: Actor, person_id: int, sources: PeopleSources = NO_SOURCES
) -> PersonRead:
    """The person with their identities (phones and e-mails as hints), every merge they took
    part in (newest first), stage and score, points, tags and attributes. A person merged into
    another is still readable (their merge can be undone from here)."""
    row = access_person(session, actor=actor, person_id=person_id)
    identities = session.scalars(
        select(PersonIdentity).where(PersonIdentity.person_id == row.id).order_by(PersonIdentity.id)
    )
    merges = session.scalars(
        select(PersonMerge)
        .where((PersonMerge.kept_id == row.id) | (PersonMerge.merged_id == row.id))
        .order_by(PersonMerge.id.desc())
    )
    tags = session.scalars(
        select(PersonTag).where(PersonTag.person_id == row.id).order_by(PersonTag.tag)
    )
    attributes = session.execute(
        select(PersonAttribute.key, PersonAttribute.value)
        .where(PersonAttribute.person_id == row.id)
        .order_by(PersonAttribute.key)
    )
    points = points_of(
        session, workspace_id=actor.workspace_id, person_ids=[row.id], sources=sources
    )
    return PersonRead(
        id=row.id,
        created_at=row.created_at,
        merged_into_id=row.merged_into_id,
        merged_at=row.merged_at,
        identities=[identity_read(i) for i in identities],
        merges=[merge_read(m) for m in merges],
        last_seen_at=row.last_seen_at,
        stage=row.stage,
        score=row.score,
        points=None if points is None else points[row.id],
        restricted_at=row.restricted_at,
        tags=[TagRead(tag=t.tag, source=t.source, created_at=t.created_at) for t in tags],
        attributes={row.key: row.value for row in attributes},
        nickname=nicknames_of(session, person_ids=[row.id], sources=sources).get(row.id),
    )


# --- resolution ---------------------------------------------------------------------------------


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


def _known_identities() -> Any:
    identity = cast(Table, PersonIdentity.__table__)

    def of_kind(kind: str, values: str) -> Any:
        return select(identity.c.kind, identity.c.value, identity.c.person_id).where(
            identity.c.workspace_id == bindparam("workspace_id"),
            identity.c.kind == bindparam(kind),
            identity.c.value.in_(bindparam(values, expanding=True)),
        )

    return union_all(of_kind("device", "devices"), of_kind("participant", "participants"))


# Built once (Core statements): every vote batch runs them, and building them cost more than
# running them.
_KNOWN_IDENTITIES = _known_identities()
_INSERT_IDENTITY = insert(cast(Table, PersonIdentity.__table__))


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
    # One select per kind, not one with OR: SQLite then searches the (workspace, kind, value)
    # index for each value; with OR it read every identity of the workspace, per vote batch.
    wanted = (
        (IdentityKind.DEVICE, [d for _p, d in joined]),
        (IdentityKind.PARTICIPANT, [str(p) for p, _d in joined]),
    )
    for kind, value, person_id in session.execute(
        _KNOWN_IDENTITIES,
        {
            "workspace_id": workspace_id,
            "device": IdentityKind.DEVICE.value,
            "devices": wanted[0][1],
            "participant": IdentityKind.PARTICIPANT.value,
            "participants": wanted[1][1],
        },
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
        live = lock_live(session, set(by_device.values()))
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
        # Multi-row on SQLite too (`insert_ids`), not one INSERT per new person.
        created = insert_ids(
            session,
            cast(Table, Person.__table__),
            [{"workspace_id": workspace_id, "created_at": now} for _p in fresh],
        )
        for (pid, device), person_id in zip(fresh, created, strict=True):
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
        session.execute(_INSERT_IDENTITY, identities)
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
    stored, hint = stored_identity(secret=secret, kind=kind, value=value)
    person = lock_live(session, [person_id])[person_id]
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
    return merge(
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


def do_add_account(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    kind: IdentityKind,
    value: str,
    now: datetime,
) -> int:
    """The brand gives a person a social account by hand (a Weibo, Douyin or Xiaohongshu
    handle, normalised by `normalise_handle`): when another person holds it, the two are merged
    like for any shared identity (the older kept). Returns the person who holds it now. Adding
    an account the person holds already changes nothing."""
    require(actor, Permission.WRITE_PEOPLE)
    if kind not in SOCIAL_KINDS:
        raise InvalidInput(_("Choose one of the options."), field="kind")
    row = access_person(session, actor=actor, person_id=person_id)
    if row.merged_into_id is not None:
        raise InvalidInput(
            _("Person {id} was merged into person {into}; change that one instead.").format(
                id=row.id, into=row.merged_into_id
            ),
            field="person",
        )
    stored, _hint = stored_identity(secret=None, kind=kind, value=value)
    held = _identity(session, workspace_id=actor.workspace_id, kind=kind.value, value=stored)
    if held is not None and held.person_id == row.id:
        return row.id
    merged = do_add_identity(
        session,
        workspace_id=actor.workspace_id,
        person_id=row.id,
        kind=kind,
        value=stored,
        secret=None,
        actor=actor_label(actor),
        now=now,
    )
    # Not the handle: the audit log outlives an erasure of the person.
    record_audit(
        session,
        actor,
        "person.account_added",
        ("person", row.id),
        f"added a {kind.value} account to person {row.id}",
        now=now,
        before={},
        after={"kind": kind.value, "merge": merged.id if merged else None},
    )
    return lock_live(session, [row.id])[row.id].id


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


def do_identify_device(
    session: Session,
    *,
    workspace_id: int,
    device_id: str,
    kind: IdentityKind,
    value: str,
    now: datetime,
) -> tuple[int, MergeRead | None]:
    """A device proved an identity of a kind that is not hashed (a WeChat OpenID through
    OAuth): it becomes an identity of the device's person (a new person holding the device
    when the device is unknown, whom the device's participant joins later), merging them with
    whoever holds it already. Returns the person id (after any merge) and the merge."""
    if kind in HASHED_KINDS or kind in ACTOR_KINDS:
        raise InvalidInput(_("Choose one of the options."), field="kind")
    person_id = find_person(
        session, workspace_id=workspace_id, kind=IdentityKind.DEVICE, value=device_id
    )
    if person_id is None:
        person_id = _new_person(session, workspace_id=workspace_id, now=now).id
        # Two first requests of one device at once: the unique index merges the two persons.
        do_add_identity(
            session,
            workspace_id=workspace_id,
            person_id=person_id,
            kind=IdentityKind.DEVICE,
            value=device_id,
            secret=None,
            actor=f"device:{device_id[:16]}",
            now=now,
        )
    merged = do_add_identity(
        session,
        workspace_id=workspace_id,
        person_id=person_id,
        kind=kind,
        value=value,
        secret=None,
        actor=f"device:{device_id[:16]}",
        now=now,
    )
    live = lock_live(session, [person_id])[person_id].id
    return live, merged


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
