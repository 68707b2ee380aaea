"""Segments: count a rule, save it (each edit a new version), list its members, and the uses
other domains make of a segment (they call these functions and record the version used).

Reading a segment's definition and counting it is reading an aggregate (any role that reads
campaigns, as the analytics filter needs); its members are people (people:read); saving one
is people:write."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from im2.errors import Conflict, InvalidInput, NotFound
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.people.models import Person, PersonIdentity
from im2.people.segments.models import Segment, SegmentMember, SegmentVersion
from im2.people.segments.rules import count_select, members_select
from im2.people.segments.schemas import (
    SegmentCreate,
    SegmentPage,
    SegmentRead,
    SegmentRef,
    SegmentRule,
    SegmentUpdate,
    SegmentVersionRead,
)
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

VISITOR_ACTOR_PREFIX = "d:"


def _label(actor: Actor) -> str:
    return f"{actor.type.value}:{actor.id}" if actor.id is not None else actor.type.value


def count_rule(session: Session, *, workspace_id: int, rule: SegmentRule, now: datetime) -> int:
    return int(session.scalar(count_select(workspace_id, rule, now=now)) or 0)


def check_preview(session: Session, *, actor: Actor, rule: SegmentRule, now: datetime) -> int:
    """How many people the rule selects now (the builder's live count)."""
    require(actor, Permission.READ_CAMPAIGNS)
    return count_rule(session, workspace_id=actor.workspace_id, rule=rule, now=now)


def _read(row: Segment, version: SegmentVersion) -> SegmentRead:
    return SegmentRead(
        id=row.id,
        name=row.name,
        version=row.version,
        rule=SegmentRule.model_validate(version.rule),
        created_at=row.created_at,
        updated_at=row.updated_at,
        archived_at=row.archived_at,
    )


def _version(session: Session, segment_id: int, version: int) -> SegmentVersion | None:
    return session.scalar(
        select(SegmentVersion).where(
            SegmentVersion.segment_id == segment_id, SegmentVersion.version == version
        )
    )


def _segment_in(session: Session, *, workspace_id: int, segment_id: int) -> Segment | None:
    row = session.get(Segment, segment_id)
    return row if row is not None and row.workspace_id == workspace_id else None


def access_segment(
    session: Session, *, workspace_id: int, segment_id: int, field: str | None = None
) -> Segment:
    """The workspace's segment, else NotFound (or InvalidInput on `field` when a body named
    it: an experiment's audience, a campaign's eligibility)."""
    row = _segment_in(session, workspace_id=workspace_id, segment_id=segment_id)
    if row is None:
        message = _("Segment {id} not found.").format(id=segment_id)
        if field is not None:
            raise InvalidInput(message, field=field)
        raise NotFound(message)
    return row


def get_segment(session: Session, *, actor: Actor, segment_id: int) -> SegmentRead:
    require(actor, Permission.READ_CAMPAIGNS)
    row = access_segment(session, workspace_id=actor.workspace_id, segment_id=segment_id)
    version = _version(session, row.id, row.version)
    assert version is not None
    return _read(row, version)


def list_segments(session: Session, *, actor: Actor, archived: bool = False) -> SegmentPage:
    require(actor, Permission.READ_CAMPAIGNS)
    query = (
        select(Segment, SegmentVersion)
        .join(
            SegmentVersion,
            (SegmentVersion.segment_id == Segment.id) & (SegmentVersion.version == Segment.version),
        )
        .where(Segment.workspace_id == actor.workspace_id)
        .order_by(Segment.updated_at.desc(), Segment.id.desc())
    )
    if not archived:
        query = query.where(Segment.archived_at.is_(None))
    return SegmentPage(items=[_read(row, version) for row, version in session.execute(query)])


def list_versions(session: Session, *, actor: Actor, segment_id: int) -> list[SegmentVersionRead]:
    require(actor, Permission.READ_CAMPAIGNS)
    row = access_segment(session, workspace_id=actor.workspace_id, segment_id=segment_id)
    versions = session.scalars(
        select(SegmentVersion)
        .where(SegmentVersion.segment_id == row.id)
        .order_by(SegmentVersion.version.desc())
    )
    return [
        SegmentVersionRead(
            version=v.version,
            name=v.name,
            rule=SegmentRule.model_validate(v.rule),
            created_at=v.created_at,
            created_by=v.created_by,
        )
        for v in versions
    ]


def _check_name(session: Session, *, workspace_id: int, name: str, segment_id: int | None) -> None:
    taken = session.scalar(
        select(Segment.id).where(Segment.workspace_id == workspace_id, Segment.name == name)
    )
    if taken is not None and taken != segment_id:
        raise InvalidInput(
            _("A segment named {name} exists already.").format(name=name), field="name"
        )


def do_create_segment(
    session: Session, *, actor: Actor, data: SegmentCreate, now: datetime
) -> SegmentRead:
    require(actor, Permission.WRITE_PEOPLE)
    _check_name(session, workspace_id=actor.workspace_id, name=data.name, segment_id=None)
    row = Segment(
        workspace_id=actor.workspace_id,
        name=data.name,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    version = SegmentVersion(
        segment_id=row.id,
        version=1,
        name=data.name,
        rule=data.rule.model_dump(mode="json"),
        created_at=now,
        created_by=_label(actor),
    )
    session.add(version)
    session.flush()
    _record(session, actor=actor, row=row, version=version, before=None, now=now)
    return _read(row, version)


def do_update_segment(
    session: Session, *, actor: Actor, segment_id: int, data: SegmentUpdate, now: datetime
) -> SegmentRead:
    """A new version with the changed name and/or rule; the old version stays readable."""
    require(actor, Permission.WRITE_PEOPLE)
    row = access_segment(session, workspace_id=actor.workspace_id, segment_id=segment_id)
    # Lock the segment so that two edits at once make versions n+1 and n+2, not two n+1.
    session.refresh(row, with_for_update=True)
    if row.archived_at is not None:
        raise Conflict(_("This segment is archived."))
    current = _version(session, row.id, row.version)
    assert current is not None
    name = data.name if data.name is not None else row.name
    rule = data.rule.model_dump(mode="json") if data.rule is not None else current.rule
    if name == current.name and rule == current.rule:
        return _read(row, current)  # nothing changed: no new version
    _check_name(session, workspace_id=row.workspace_id, name=name, segment_id=row.id)
    before = {"name": current.name, "version": current.version, "rule": current.rule}
    row.version += 1
    row.name = name
    row.updated_at = now
    version = SegmentVersion(
        segment_id=row.id,
        version=row.version,
        name=name,
        rule=rule,
        created_at=now,
        created_by=_label(actor),
    )
    session.add(version)
    session.flush()
    _record(session, actor=actor, row=row, version=version, before=before, now=now)
    return _read(row, version)


def do_archive_segment(
    session: Session, *, actor: Actor, segment_id: int, now: datetime
) -> SegmentRead:
    require(actor, Permission.WRITE_PEOPLE)
    row = access_segment(session, workspace_id=actor.workspace_id, segment_id=segment_id)
    if row.archived_at is None:
        row.archived_at = now
        session.execute(delete(SegmentMember).where(SegmentMember.segment_id == row.id))
        record_audit(
            session,
            actor,
            "segment.archive",
            ("segment", row.id),
            f"Archived segment {row.name}",
            now=now,
            after={"archived_at": now.isoformat()},
            workspace_id=row.workspace_id,
        )
    version = _version(session, row.id, row.version)
    assert version is not None
    return _read(row, version)


def _record(
    session: Session,
    *,
    actor: Actor,
    row: Segment,
    version: SegmentVersion,
    before: dict[str, Any] | None,
    now: datetime,
) -> None:
    after = {"name": version.name, "version": version.version, "rule": version.rule}
    record_audit(
        session,
        actor,
        "segment.save",
        ("segment", row.id),
        f"Saved segment {row.name} version {version.version}",
        now=now,
        before=before,
        after=after,
        workspace_id=row.workspace_id,
    )
    record_event(
        session,
        kind=EventKind.SEGMENT_SAVED,
        occurred_at=now,
        workspace_id=row.workspace_id,
        actor_type=actor.type,
        actor_id=actor.id,
        properties={"segment": row.id, "version": version.version, "name": version.name},
    )


# Uses: what other domains call (they record the returned SegmentRef's version).


def segment_rule(
    session: Session,
    *,
    workspace_id: int,
    segment_id: int,
    version: int | None = None,
    field: str | None = None,
) -> tuple[SegmentRef, SegmentRule]:
    """A segment's rule (the current version unless `version` is given), with a reference to
    record where it is used."""
    row = access_segment(session, workspace_id=workspace_id, segment_id=segment_id, field=field)
    found = _version(session, row.id, version or row.version)
    if found is None:
        raise NotFound(_("Version {version} of this segment not found.").format(version=version))
    ref = SegmentRef(segment_id=row.id, version=found.version, name=found.name)
    return ref, SegmentRule.model_validate(found.rule)


def check_segment_version(
    session: Session, workspace_id: int, segment_id: int, field: str = "eligible_segment_id"
) -> int:
    """The current version of a live segment of the workspace, for a use to record (a
    campaign's eligibility, an experiment's audience: InvalidInput on `field` otherwise)."""
    row = access_segment(session, workspace_id=workspace_id, segment_id=segment_id, field=field)
    if row.archived_at is not None:
        raise InvalidInput(_("Segment {id} is archived.").format(id=segment_id), field=field)
    return row.version


def count_segment(
    session: Session, *, workspace_id: int, segment_id: int, now: datetime
) -> tuple[SegmentRef, int]:
    ref, rule = segment_rule(session, workspace_id=workspace_id, segment_id=segment_id)
    return ref, count_rule(session, workspace_id=workspace_id, rule=rule, now=now)


def is_member(
    session: Session,
    *,
    workspace_id: int,
    segment_id: int,
    person_id: int | None,
    now: datetime,
    version: int | None = None,
) -> bool:
    """Whether the person is in the segment now (a campaign's eligibility, an experiment's
    audience). Nobody without a person is."""
    if person_id is None:
        return False
    _ref, rule = segment_rule(
        session, workspace_id=workspace_id, segment_id=segment_id, version=version
    )
    query = members_select(workspace_id, rule, now=now).where(Person.id == person_id)
    return session.scalar(query) is not None


def segment_actor_ids(
    session: Session,
    *,
    workspace_id: int,
    segment_id: int,
    now: datetime,
    field: str | None = None,
) -> tuple[SegmentRef, list[str]]:
    """The event `actor_id`s of the segment's people (their participant ids and "d:<device>"),
    for analytics to restrict a campaign's events to them. A segment of another workspace is
    InvalidInput on `field` when given."""
    ref, rule = segment_rule(session, workspace_id=workspace_id, segment_id=segment_id, field=field)
    members = members_select(workspace_id, rule, now=now).subquery()
    rows = session.execute(
        select(PersonIdentity.kind, PersonIdentity.value).where(
            PersonIdentity.workspace_id == workspace_id,
            PersonIdentity.kind.in_(("device", "participant")),
            PersonIdentity.person_id.in_(select(members.c.id)),
        )
    )
    return ref, [
        (VISITOR_ACTOR_PREFIX + value) if kind == "device" else value for kind, value in rows
    ]


EXPORT_COLUMNS = ("person_id", "stage", "score", "last_seen_at", "created_at")
_EXPORTED = (Person.id, Person.stage, Person.score, Person.last_seen_at, Person.created_at)


def iter_member_rows(
    session: Session, *, actor: Actor, segment_id: int, now: datetime, batch: int = 5000
) -> tuple[SegmentRef, Iterator[list[Any]]]:
    """The segment's members as export rows (people:read), in id order."""
    require(actor, Permission.READ_PEOPLE)
    ref, rule = segment_rule(session, workspace_id=actor.workspace_id, segment_id=segment_id)
    ids = members_select(actor.workspace_id, rule, now=now).subquery()

    def rows() -> Iterator[list[Any]]:
        after = 0
        while True:
            chunk = session.execute(
                select(*_EXPORTED)
                .where(Person.id.in_(select(ids.c.id)), Person.id > after)
                .order_by(Person.id)
                .limit(batch)
            ).all()
            if not chunk:
                return
            for row in chunk:
                yield [
                    row[0],
                    row[1] or "",
                    "" if row[2] is None else round(row[2], 1),
                    row[3].isoformat() if row[3] else "",
                    row[4].isoformat(),
                ]
            after = chunk[-1][0]

    return ref, rows()


def live_segment_ids(session: Session) -> list[int]:
    """Every workspace's segments that are not archived (the "entered segment" job's items)."""
    return list(
        session.scalars(
            select(Segment.id).where(Segment.archived_at.is_(None)).order_by(Segment.id)
        )
    )


def do_track_entries(session: Session, *, segment_id: int, now: datetime) -> int:
    """Compare the segment's members with those stored and record `segment.entered` for each
    person who came in (people leaving are removed quietly). A segment's first run stores its
    members without events: they were there before anyone watched. Returns the number of
    entries recorded. Restricted and withdrawn people are never members, so never announced.
    Locks the segment: two runs at once record each entry once."""
    row = session.get(Segment, segment_id, with_for_update=True)
    if row is None or row.archived_at is not None:
        return 0
    return _track(session, row=row, now=now)


def _track(session: Session, *, row: Segment, now: datetime) -> int:
    version = _version(session, row.id, row.version)
    assert version is not None
    rule = SegmentRule.model_validate(version.rule)
    current = set(session.scalars(members_select(row.workspace_id, rule, now=now)))
    stored = set(
        session.scalars(select(SegmentMember.person_id).where(SegmentMember.segment_id == row.id))
    )
    left = stored - current
    if left:
        for start in range(0, len(left), 1000):
            chunk = sorted(left)[start : start + 1000]
            session.execute(
                delete(SegmentMember).where(
                    SegmentMember.segment_id == row.id, SegmentMember.person_id.in_(chunk)
                )
            )
    came = sorted(current - stored)
    if came:
        session.execute(
            insert(SegmentMember),
            [{"segment_id": row.id, "person_id": pid, "entered_at": now} for pid in came],
        )
    first_run = row.members_since is None
    if first_run:
        row.members_since = now
        return 0
    for person_id in came:
        record_event(
            session,
            kind=EventKind.SEGMENT_ENTERED,
            occurred_at=now,
            workspace_id=row.workspace_id,
            actor_type=ActorType.SYSTEM,
            actor_id=None,
            properties={
                "segment": row.id,
                "version": row.version,
                "name": row.name,
                "person": person_id,
            },
        )
    return len(came)
