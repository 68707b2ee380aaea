"""Consent grants and withdrawals, where a person stands, and the records that prove it.
See `im2.people.consent.service`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from im2.errors import Conflict, InvalidInput, NotFound
from im2.i18n import DEFAULT_LOCALE, LOCALES, _
from im2.people.consent.models import ConsentRecord
from im2.people.consent.schemas import (
    ConsentChange,
    ConsentChannel,
    ConsentRecordRead,
    ConsentState,
    ConsentTextRead,
    GivenBy,
    Purpose,
)
from im2.people.consent.service_conditions import active
from im2.people.consent.service_texts import check_language, current_text, find_text
from im2.people.models import Person
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require


def _person(session: Session, *, actor: Actor, person_id: int) -> Person:
    """The person of the actor's workspace (404 otherwise), for a reader with people:read.
    (Not `people.service.access_person`: merges use this package, so it stays below them.)"""
    require(actor, Permission.READ_PEOPLE)
    row = session.get(Person, person_id)
    if row is None or row.workspace_id != actor.workspace_id:
        raise NotFound(_("Person not found."))
    return row


def do_grant(
    session: Session,
    *,
    workspace_id: int,
    person_id: int,
    participant_id: int | None,
    purpose: Purpose,
    text: ConsentTextRead,
    channel: ConsentChannel,
    now: datetime,
    given_by: GivenBy = GivenBy.SELF,
    under_14: bool = False,
) -> bool:
    """Record that `text` was shown and agreed to. A standing grant of the same version is
    kept as it is (a repeated click writes nothing); returns whether a row was added."""
    standing = session.scalar(
        select(ConsentRecord.id).where(
            active(workspace_id, purpose),
            ConsentRecord.person_id == person_id,
            ConsentRecord.version == text.version,
            ConsentRecord.given_by == given_by.value,
        )
    )
    if standing is not None:
        return False
    session.add(
        ConsentRecord(
            workspace_id=workspace_id,
            person_id=person_id,
            participant_id=participant_id,
            purpose=purpose.value,
            version=text.version,
            language=text.language,
            text_sha256=text.sha256,
            channel=channel.value,
            given_by=given_by.value,
            under_14=under_14,
            granted_at=now,
        )
    )
    session.flush()
    return True


def do_grant_many(
    session: Session,
    *,
    workspace_id: int,
    grants: list[tuple[int, int, datetime]],
    purpose: Purpose,
    text: ConsentTextRead,
    channel: ConsentChannel,
) -> None:
    """`do_grant` for many new participants at once, (person id, participant id, time) each,
    in one multi-row insert (the vote's group commit joins hundreds at once)."""
    if not grants:
        return
    session.execute(
        insert(ConsentRecord),
        [
            {
                "workspace_id": workspace_id,
                "person_id": person_id,
                "participant_id": participant_id,
                "purpose": purpose.value,
                "version": text.version,
                "language": text.language,
                "text_sha256": text.sha256,
                "channel": channel.value,
                "given_by": GivenBy.SELF.value,
                "under_14": False,
                "granted_at": at,
            }
            for person_id, participant_id, at in grants
        ],
    )


def do_withdraw(
    session: Session,
    *,
    workspace_id: int,
    person_id: int,
    purpose: Purpose,
    channel: ConsentChannel,
    now: datetime,
) -> int:
    """Withdraw every standing grant of this purpose (effective for the next query that asks).
    Withdrawing what was never given leaves a withdrawn row, so that the refusal itself is on
    record and `consented` excludes the person. Returns how many grants were withdrawn."""
    standing = list(
        session.scalars(
            select(ConsentRecord).where(
                active(workspace_id, purpose), ConsentRecord.person_id == person_id
            )
        )
    )
    for row in standing:
        row.withdrawn_at = now
        row.withdrawn_channel = channel.value
    if not standing:
        already = session.scalar(
            select(ConsentRecord.id).where(
                ConsentRecord.workspace_id == workspace_id,
                ConsentRecord.person_id == person_id,
                ConsentRecord.purpose == purpose.value,
            )
        )
        if already is None:
            session.add(
                ConsentRecord(
                    workspace_id=workspace_id,
                    person_id=person_id,
                    participant_id=None,
                    purpose=purpose.value,
                    version="-",
                    language=None,
                    text_sha256=None,
                    channel=channel.value,
                    given_by=GivenBy.SELF.value,
                    granted_at=now,
                    withdrawn_at=now,
                    withdrawn_channel=channel.value,
                )
            )
    session.flush()
    return len(standing)


def states(session: Session, *, workspace_id: int, person_id: int) -> list[ConsentState]:
    """Where the person stands on each purpose (the newest row of each decides)."""
    rows = session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.workspace_id == workspace_id, ConsentRecord.person_id == person_id)
        .order_by(ConsentRecord.id)
    )
    newest: dict[str, ConsentRecord] = {}
    standing: dict[str, ConsentRecord] = {}
    for row in rows:
        newest[row.purpose] = row
        if row.withdrawn_at is None:
            standing[row.purpose] = row
    found = []
    for purpose in Purpose:
        grant = standing.get(purpose.value)
        last = newest.get(purpose.value)
        if grant is not None:
            shown = current_text(
                session,
                workspace_id=workspace_id,
                purpose=purpose,
                language=grant.language if grant.language in LOCALES else DEFAULT_LOCALE,
            )
            found.append(
                ConsentState(
                    purpose=purpose,
                    granted=True,
                    version=grant.version,
                    granted_at=grant.granted_at,
                    withdrawn_at=None,
                    current_version=grant.version == shown.version,
                )
            )
        else:
            found.append(
                ConsentState(
                    purpose=purpose,
                    granted=False,
                    version=None,
                    granted_at=None,
                    withdrawn_at=None if last is None else last.withdrawn_at,
                )
            )
    return found


def _record_read(row: ConsentRecord) -> ConsentRecordRead:
    return ConsentRecordRead(
        id=row.id,
        person_id=row.person_id,
        participant_id=row.participant_id,
        purpose=Purpose(row.purpose),
        version=row.version,
        language=row.language,
        text_sha256=row.text_sha256,
        channel=ConsentChannel(row.channel),
        given_by=GivenBy(row.given_by),
        under_14=row.under_14,
        granted_at=row.granted_at,
        withdrawn_at=row.withdrawn_at,
        withdrawn_channel=None
        if row.withdrawn_channel is None
        else ConsentChannel(row.withdrawn_channel),
    )


def list_records(session: Session, *, actor: Actor, person_id: int) -> list[ConsentRecordRead]:
    """Every grant and withdrawal of a person, newest first (the brand's proof of consent)."""
    _person(session, actor=actor, person_id=person_id)
    rows = session.scalars(
        select(ConsentRecord)
        .where(
            ConsentRecord.workspace_id == actor.workspace_id,
            ConsentRecord.person_id == person_id,
        )
        .order_by(ConsentRecord.id.desc())
    )
    return [_record_read(r) for r in rows]


def do_record_change(
    session: Session, *, actor: Actor, person_id: int, data: ConsentChange, now: datetime
) -> list[ConsentState]:
    """The brand records a grant or withdrawal it received itself (channel `api`)."""
    require(actor, Permission.WRITE_PEOPLE)
    person = _person(session, actor=actor, person_id=person_id)
    if person.merged_into_id is not None:
        raise Conflict(_("This person was merged into another; record it there."))
    language = check_language(data.language)
    if data.granted:
        if data.version is None:
            text = current_text(
                session, workspace_id=actor.workspace_id, purpose=data.purpose, language=language
            )
        else:
            found = find_text(
                session,
                workspace_id=actor.workspace_id,
                purpose=data.purpose,
                language=language,
                version=data.version,
            )
            if found is None:
                raise InvalidInput(_("There is no such version of this text."), field="version")
            text = found
        do_grant(
            session,
            workspace_id=actor.workspace_id,
            person_id=person_id,
            participant_id=None,
            purpose=data.purpose,
            text=text,
            channel=ConsentChannel.API,
            now=now,
        )
    else:
        do_withdraw(
            session,
            workspace_id=actor.workspace_id,
            person_id=person_id,
            purpose=data.purpose,
            channel=ConsentChannel.API,
            now=now,
        )
    record_audit(
        session,
        actor,
        "consent.grant" if data.granted else "consent.withdraw",
        ("person", person_id),
        f"consent {data.purpose.value} {'granted' if data.granted else 'withdrawn'}",
        now=now,
        after={"purpose": data.purpose.value, "granted": data.granted},
    )
    return states(session, workspace_id=actor.workspace_id, person_id=person_id)


def get_states(session: Session, *, actor: Actor, person_id: int) -> list[ConsentState]:
    _person(session, actor=actor, person_id=person_id)
    return states(session, workspace_id=actor.workspace_id, person_id=person_id)
