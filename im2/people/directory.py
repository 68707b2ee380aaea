"""The people list: search, filters, sort, keyset pages.

Sorting stays on the indexes at a million people: each sort is read in *phases*, each an index
range ordered by (value, id) descending: for last seen and score, the people with a value, then
those without; for the stage, one phase per stage from advocate down, then people with none.
The cursor names the phase and the last (value, id) shown, so a page is one index range scan.
Points are not a column of `people` (they live in the incentives ledger, a domain above this
one): the app assembly gives a `PeopleSources.points` query, and a sort by points aggregates it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import ColumnElement, Select, String, and_, cast, func, select
from sqlalchemy.orm import Session

from im2.errors import InvalidInput
from im2.events.schemas import ActorType
from im2.events.service import campaign_actors
from im2.i18n import _
from im2.people.directory_cursor import (
    Desc,
    after_cursor,
    decode_cursor,
    encode_cursor,
    page_by_phases,
)
from im2.people.identities import identity_hash
from im2.people.models import Person, PersonAttribute, PersonIdentity, PersonTag
from im2.people.schemas import (
    HASHED_KINDS,
    SOCIAL_KINDS,
    STAGE_ORDER,
    IdentityKind,
    PeopleFilter,
    PeopleSort,
    PersonPage,
    PersonSummary,
    normalise_handle,
)
from im2.types import MAX_ID
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import require

READ_PEOPLE = Permission.READ_PEOPLE
WRITE_PEOPLE = Permission.WRITE_PEOPLE

# Search looks these up as typed (not hashed): ids that come from outside.
_PLAIN_KINDS = (
    IdentityKind.CRM.value,
    IdentityKind.WECHAT_OPENID.value,
    IdentityKind.WECHAT_UNIONID.value,
    IdentityKind.SHARE_CODE.value,
)
_PHONE = re.compile(r"\+?[0-9]{6,15}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class PeopleSources:
    """What a person's row shows from domains above people, which this one may not import:
    the app assembly (`im2/app.py`) builds it from their services. Each part is optional; the
    list and profile leave the field out when it is missing."""

    # Workspace id -> a query of (participant id, points held) rows.
    points: Callable[[int], Select[int, int]] | None = None
    # Participant ids -> their nicknames (those who set one).
    nicknames: Callable[[Session, Sequence[int]], dict[int, str]] | None = None
    # (workspace id, text) -> ids of participants whose nickname is the text or starts with it.
    named: Callable[[Session, int, str], list[int]] | None = None


NO_SOURCES = PeopleSources()


def normalise_phone(value: str) -> str | None:
    """A phone as the participant pages store its hash (spaces and dashes dropped), or None."""
    phone = re.sub(r"[\s-]", "", value)
    return phone if _PHONE.fullmatch(phone) else None


def normalise_email(value: str) -> str | None:
    """An e-mail as the participant pages store its hash (normalised, lower case), or None."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


# --- search and filters -------------------------------------------------------------------------


def search_people(
    session: Session, *, workspace_id: int, q: str, secret: str, sources: PeopleSources
) -> set[int]:
    """The people a search text finds: a phone or e-mail typed in full (its keyed hash), a CRM
    id / OpenID / share code as typed, a Weibo / Douyin / Xiaohongshu handle, a person id, or a
    nickname (through `sources`)."""
    text = q.strip()
    if not text:
        return set()
    found: set[int] = set()
    lookups: list[tuple[str, str]] = [(kind, text) for kind in _PLAIN_KINDS]
    # A social account as its handle is stored (leading @ dropped, case-folded where the
    # platform ignores case).
    for social in sorted(SOCIAL_KINDS):
        handle = normalise_handle(social, text)
        if handle is not None:
            lookups.append((social.value, handle))
    email = normalise_email(text) if "@" in text else None
    if email is not None:
        lookups.append(
            (
                IdentityKind.EMAIL.value,
                identity_hash(secret=secret, kind=IdentityKind.EMAIL, value=email),
            )
        )
    phone = normalise_phone(text)
    if phone is not None:
        lookups.append(
            (
                IdentityKind.PHONE.value,
                identity_hash(secret=secret, kind=IdentityKind.PHONE, value=phone),
            )
        )
    # One lookup of the unique (workspace, kind, value) index each: an OR of them in one
    # statement makes SQLite scan the workspace's identities instead.
    for kind, value in lookups:
        found.update(
            session.scalars(
                select(PersonIdentity.person_id).where(
                    PersonIdentity.workspace_id == workspace_id,
                    PersonIdentity.kind == kind,
                    PersonIdentity.value == value[:128],
                )
            )
        )
    digits = text.removeprefix("#")
    if digits.isdigit() and 0 < int(digits) <= MAX_ID:
        found.add(int(digits))
    if sources.named is not None:
        participants = sources.named(session, workspace_id, text[:40])
        if participants:
            found.update(
                session.scalars(
                    select(PersonIdentity.person_id).where(
                        PersonIdentity.workspace_id == workspace_id,
                        PersonIdentity.kind == IdentityKind.PARTICIPANT.value,
                        PersonIdentity.value.in_([str(p) for p in participants[:500]]),
                    )
                )
            )
    return found


def _parse_attribute(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InvalidInput(_("Write the attribute as name=value."), field="attribute")
    return key.strip(), value.strip()


def _took_part_in(workspace_id: int, campaign_id: int) -> ColumnElement[bool]:
    """People with a participant who has an event in the campaign (any action)."""
    actors = campaign_actors(
        workspace_id=workspace_id, campaign_id=campaign_id, actor_type=ActorType.PARTICIPANT
    )
    return Person.id.in_(
        select(PersonIdentity.person_id).where(
            PersonIdentity.workspace_id == workspace_id,
            PersonIdentity.kind == IdentityKind.PARTICIPANT.value,
            PersonIdentity.value.in_(actors),
        )
    )


def conditions(
    session: Session,
    *,
    workspace_id: int,
    filters: PeopleFilter,
    secret: str,
    sources: PeopleSources,
) -> list[ColumnElement[bool]] | None:
    """The WHERE of the list, or None when a search finds nobody (no query needed)."""
    for name in ("q", "stage", "tag", "attribute"):
        value = getattr(filters, name)
        if value is not None and _CONTROL.search(value):
            raise InvalidInput(_("The format is not valid."), field=name)
    where: list[ColumnElement[bool]] = [
        Person.workspace_id == workspace_id,
        Person.merged_into_id.is_(None),
    ]
    if filters.q and filters.q.strip():
        ids = search_people(
            session, workspace_id=workspace_id, q=filters.q, secret=secret, sources=sources
        )
        if not ids:
            return None
        where.append(Person.id.in_(sorted(ids)))
    if filters.stage:
        if filters.stage not in STAGE_ORDER:
            raise InvalidInput(_("Choose one of the options."), field="stage")
        where.append(Person.stage == filters.stage)
    if filters.tag:
        where.append(
            Person.id.in_(
                select(PersonTag.person_id).where(
                    PersonTag.workspace_id == workspace_id, PersonTag.tag == filters.tag.strip()
                )
            )
        )
    if filters.attribute:
        key, value = _parse_attribute(filters.attribute)
        where.append(
            Person.id.in_(
                select(PersonAttribute.person_id).where(
                    PersonAttribute.workspace_id == workspace_id,
                    PersonAttribute.key == key,
                    PersonAttribute.value == value,
                )
            )
        )
    if filters.verified is not None:
        # Correlated (the person's identities by index), so a page stops at its 30th match
        # instead of first collecting every verified person of the workspace.
        verified = (
            select(PersonIdentity.id)
            .where(
                PersonIdentity.person_id == Person.id,
                PersonIdentity.kind.in_([k.value for k in HASHED_KINDS]),
            )
            .exists()
        )
        where.append(verified if filters.verified else ~verified)
    if filters.campaign_id is not None:
        where.append(_took_part_in(workspace_id, filters.campaign_id))
    # A time without a zone is read as UTC (the API's rule for every time it is given).
    seen_from, seen_until = (
        None if t is None else t if t.tzinfo is not None else t.replace(tzinfo=UTC)
        for t in (filters.seen_from, filters.seen_until)
    )
    filters = filters.model_copy(update={"seen_from": seen_from, "seen_until": seen_until})
    if (
        filters.seen_from is not None
        and filters.seen_until is not None
        and filters.seen_until <= filters.seen_from
    ):
        raise InvalidInput(_("The end must be after the start."), field="seen_until")
    if filters.seen_from is not None:
        where.append(Person.last_seen_at >= filters.seen_from)
    if filters.seen_until is not None:
        where.append(Person.last_seen_at < filters.seen_until)
    return where


def _points_by_person(workspace_id: int, sources: PeopleSources) -> Any:
    """A subquery of (person_id, points) over the workspace's participants, or None."""
    if sources.points is None:
        return None
    ledger = sources.points(workspace_id).subquery()
    participant_id, points = list(ledger.c)[:2]
    return (
        select(PersonIdentity.person_id.label("person_id"), func.sum(points).label("points"))
        .join(
            ledger,
            and_(
                PersonIdentity.kind == IdentityKind.PARTICIPANT.value,
                PersonIdentity.value == cast(participant_id, String),
            ),
        )
        .where(PersonIdentity.workspace_id == workspace_id)
        .group_by(PersonIdentity.person_id)
        .subquery()
    )


def _page_by_points(
    session: Session,
    *,
    workspace_id: int,
    where: list[ColumnElement[bool]],
    sources: PeopleSources,
    cursor: str | None,
    limit: int,
) -> tuple[list[int], str | None]:
    per_person = _points_by_person(workspace_id, sources)
    if per_person is None:
        raise InvalidInput(_("Sorting by points is not available here."), field="sort")
    points = func.coalesce(per_person.c.points, 0)
    query = (
        select(Person.id, points)
        .outerjoin(per_person, per_person.c.person_id == Person.id)
        .where(*where)
    )
    start = decode_cursor(cursor, PeopleSort.POINTS)
    if start is not None:
        query = query.where(after_cursor(points, int(start[1] or 0), start[2]))
    rows = session.execute(query.order_by(points.desc(), Person.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [int(pid) for pid, _v in rows]
    if not more or not rows:
        return ids, None
    return ids, encode_cursor(PeopleSort.POINTS, 0, int(rows[-1][1]), int(rows[-1][0]))


def _page_of_found(
    session: Session,
    *,
    workspace_id: int,
    where: list[ColumnElement[bool]],
    sort: PeopleSort,
    sources: PeopleSources,
    cursor: str | None,
    limit: int,
) -> tuple[list[int], str | None]:
    """A page of what a search found (a few people, looked up by id): sorted here in the
    same order and with the same cursors as the index phases, because a database planner
    given `id IN (…)` and an ORDER BY on another index walks that whole index instead."""
    rows = session.execute(
        select(Person.id, Person.last_seen_at, Person.stage, Person.score).where(*where)
    ).all()
    ids = [int(r[0]) for r in rows]
    keyed: list[tuple[int, Any, int]] = []  # (phase, value, id), phases as sort_phases numbers them
    if sort is PeopleSort.POINTS:
        points = points_of(session, workspace_id=workspace_id, person_ids=ids, sources=sources)
        if points is None:
            raise InvalidInput(_("Sorting by points is not available here."), field="sort")
        keyed = [(0, points[pid], pid) for pid in ids]
    else:
        for pid, seen, stage, score in rows:
            if sort is PeopleSort.STAGE:
                phase = STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER)
                keyed.append((phase, None, int(pid)))
            else:
                value = score if sort is PeopleSort.SCORE else seen
                if isinstance(value, datetime) and value.tzinfo is None:
                    value = value.replace(tzinfo=UTC)
                keyed.append((0, value, int(pid)) if value is not None else (1, None, int(pid)))
    keyed.sort(key=lambda k: (k[0], Desc(k[1]), -k[2]))
    start = decode_cursor(cursor, sort)
    if start is not None:
        phase, value, last_id = start
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        keyed = [
            k
            for k in keyed
            if k[0] > phase
            or (
                k[0] == phase
                and (
                    (k[1] is None and k[2] < last_id)
                    or (k[1] is not None and (k[1] < value or (k[1] == value and k[2] < last_id)))
                )
            )
        ]
    page = keyed[:limit]
    if len(keyed) <= limit or not page:
        return [k[2] for k in page], None
    last = page[-1]
    return [k[2] for k in page], encode_cursor(sort, last[0], last[1], last[2])


# --- the list -------------------------------------------------------------------------------------


def points_of(
    session: Session, *, workspace_id: int, person_ids: Sequence[int], sources: PeopleSources
) -> dict[int, int] | None:
    """Points held by each person (0 for none), or None without a points source."""
    per_person = _points_by_person(workspace_id, sources)
    if per_person is None:
        return None
    found: dict[int, Any] = dict(
        session.execute(
            select(per_person.c.person_id, per_person.c.points).where(
                per_person.c.person_id.in_(list(person_ids))
            )
        ).all()
    )
    return {pid: int(found.get(pid) or 0) for pid in person_ids}


def nicknames_of(
    session: Session, *, person_ids: Sequence[int], sources: PeopleSources
) -> dict[int, str]:
    """A nickname per person (their newest participant's that has one)."""
    if sources.nicknames is None or not person_ids:
        return {}
    participants = session.execute(
        select(PersonIdentity.person_id, PersonIdentity.value)
        .where(
            PersonIdentity.person_id.in_(list(person_ids)),
            PersonIdentity.kind == IdentityKind.PARTICIPANT.value,
        )
        .order_by(PersonIdentity.id)
    ).all()
    names = sources.nicknames(session, [int(v) for _p, v in participants])
    result: dict[int, str] = {}
    for person_id, value in participants:
        if int(value) in names:
            result[person_id] = names[int(value)]
    return result


def summaries(
    session: Session, *, workspace_id: int, person_ids: Sequence[int], sources: PeopleSources
) -> list[PersonSummary]:
    """The list's rows for these people, in the given order."""
    if not person_ids:
        return []
    ids = list(person_ids)
    people = {row.id: row for row in session.scalars(select(Person).where(Person.id.in_(ids)))}
    counts: dict[int, dict[str, int]] = {pid: {} for pid in ids}
    for pid, kind, n in session.execute(
        select(PersonIdentity.person_id, PersonIdentity.kind, func.count())
        .where(PersonIdentity.person_id.in_(ids))
        .group_by(PersonIdentity.person_id, PersonIdentity.kind)
    ):
        counts[pid][kind] = int(n)
    tags: dict[int, list[str]] = {pid: [] for pid in ids}
    for pid, tag in session.execute(
        select(PersonTag.person_id, PersonTag.tag)
        .where(PersonTag.person_id.in_(ids))
        .order_by(PersonTag.tag)
    ):
        tags[pid].append(tag)
    points = points_of(session, workspace_id=workspace_id, person_ids=ids, sources=sources)
    names = nicknames_of(session, person_ids=ids, sources=sources)
    hashed = {k.value for k in HASHED_KINDS}
    return [
        PersonSummary(
            id=pid,
            created_at=people[pid].created_at,
            identities=counts[pid],
            verified=any(kind in hashed for kind in counts[pid]),
            last_seen_at=people[pid].last_seen_at,
            stage=people[pid].stage,
            score=people[pid].score,
            points=None if points is None else points[pid],
            restricted=people[pid].restricted_at is not None,
            tags=tags[pid],
            nickname=names.get(pid),
        )
        for pid in ids
        if pid in people
    ]


def list_people(
    session: Session,
    *,
    actor: Actor,
    cursor: str | None = None,
    limit: int = 20,
    filters: PeopleFilter | None = None,
    secret: str = "",
    sources: PeopleSources = NO_SOURCES,
) -> PersonPage:
    """The workspace's live people (not those merged into another), filtered and sorted (last
    seen first by default), one keyset page at a time. Searching a phone or e-mail needs the
    settings' `secret` (the lookup key)."""
    require(actor, READ_PEOPLE)
    filters = filters or PeopleFilter()
    where = conditions(
        session, workspace_id=actor.workspace_id, filters=filters, secret=secret, sources=sources
    )
    if where is None:
        return PersonPage(items=[], next_cursor=None)
    if filters.q and filters.q.strip():
        ids, next_cursor = _page_of_found(
            session,
            workspace_id=actor.workspace_id,
            where=where,
            sort=filters.sort,
            sources=sources,
            cursor=cursor,
            limit=limit,
        )
    elif filters.sort is PeopleSort.POINTS:
        ids, next_cursor = _page_by_points(
            session,
            workspace_id=actor.workspace_id,
            where=where,
            sources=sources,
            cursor=cursor,
            limit=limit,
        )
    else:
        ids, next_cursor = page_by_phases(
            session, where=where, sort=filters.sort, cursor=cursor, limit=limit
        )
    return PersonPage(
        items=summaries(session, workspace_id=actor.workspace_id, person_ids=ids, sources=sources),
        next_cursor=next_cursor,
    )
