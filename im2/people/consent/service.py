"""Consent by purpose: texts, grants, withdrawals, and the conditions other work filters by.

A grant is one `consent_records` row with the exact text version shown (and the text's
SHA-256), the time, the channel and who gave it (the person, or a guardian for a child under
14). A withdrawal stamps every standing grant of that purpose at once; granting again adds a
new row. Nothing here commits.

Which people may be processed for a purpose (`consented`): everyone who has not withdrawn it.
A withdrawal takes effect on the next query: segments, exports and the webhook outbox ask
`consented` / `withdrawn_participants` every time, nothing is cached. Contacting someone for
marketing needs more than not having said no: `granted` is the stricter condition (a standing
grant), for the work that needs a yes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, exists, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from im2.errors import Conflict, InvalidInput, NotFound
from im2.i18n import DEFAULT_LOCALE, LOCALES, _, use_locale
from im2.people.consent.models import ConsentRecord, ConsentText
from im2.people.consent.schemas import (
    SHIPPED_TEXTS,
    ConsentChange,
    ConsentChannel,
    ConsentRecordRead,
    ConsentState,
    ConsentTextCreate,
    ConsentTextRead,
    ConsentTextVersion,
    GivenBy,
    Purpose,
)
from im2.people.models import Person, PersonIdentity
from im2.people.schemas import IdentityKind
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


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def check_language(language: str, *, field: str = "language") -> str:
    if language not in LOCALES:
        raise InvalidInput(
            _("Choose one of: {options}.").format(options=", ".join(LOCALES)), field=field
        )
    return language


# --- texts ------------------------------------------------------------------------------------


def shipped_text(purpose: Purpose, language: str) -> ConsentTextRead:
    """IM2's own text for a purpose, in `language` (the catalog's translation)."""
    version, message = SHIPPED_TEXTS[purpose]
    with use_locale(language):
        text = _(message)
    return ConsentTextRead(
        purpose=purpose,
        language=language,
        version=version,
        text=text,
        sha256=sha256(text),
        shipped=True,
        created_at=None,
        created_by=None,
    )


def _text_read(row: ConsentText) -> ConsentTextRead:
    return ConsentTextRead(
        purpose=Purpose(row.purpose),
        language=row.language,
        version=row.version,
        text=row.text,
        sha256=row.text_sha256,
        shipped=False,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _newest(
    session: Session, *, workspace_id: int, purpose: Purpose, language: str
) -> ConsentText | None:
    return session.scalar(
        select(ConsentText)
        .where(
            ConsentText.workspace_id == workspace_id,
            ConsentText.purpose == purpose.value,
            ConsentText.language == language,
        )
        .order_by(ConsentText.id.desc())
        .limit(1)
    )


def current_text(
    session: Session,
    *,
    workspace_id: int,
    purpose: Purpose,
    language: str,
    fallback: str | None = None,
) -> ConsentTextRead:
    """The text shown now: the workspace's newest version in this language; else (a public
    page in a language the brand wrote no text in) its newest in `fallback`, the campaign's
    default language, so the brand's own terms are shown rather than IM2's; else IM2's."""
    row = _newest(session, workspace_id=workspace_id, purpose=purpose, language=language)
    if row is None and fallback is not None and fallback != language:
        row = _newest(session, workspace_id=workspace_id, purpose=purpose, language=fallback)
    return shipped_text(purpose, language) if row is None else _text_read(row)


def current_texts(
    session: Session, *, workspace_id: int, language: str, fallback: str | None = None
) -> dict[Purpose, ConsentTextRead]:
    return {
        p: current_text(
            session, workspace_id=workspace_id, purpose=p, language=language, fallback=fallback
        )
        for p in Purpose
    }


def find_text(
    session: Session,
    *,
    workspace_id: int,
    purpose: Purpose,
    language: str,
    version: str,
    fallback: str | None = None,
) -> ConsentTextRead | None:
    """A given version (the workspace's, or IM2's shipped one), None when unknown; in
    `language`, or in `fallback` when that is what `current_text` showed."""
    shipped = shipped_text(purpose, language)
    if version == shipped.version:
        return shipped
    for lang in (language, fallback):
        if lang is None:
            continue
        if lang != language and _newest(
            session, workspace_id=workspace_id, purpose=purpose, language=language
        ):
            break  # the page showed the brand's text in its own language, not the fallback
        row = session.scalar(
            select(ConsentText).where(
                ConsentText.workspace_id == workspace_id,
                ConsentText.purpose == purpose.value,
                ConsentText.language == lang,
                ConsentText.version == version,
            )
        )
        if row is not None:
            return _text_read(row)
    return None


def list_texts(session: Session, *, actor: Actor) -> list[ConsentTextRead]:
    """Every version the workspace wrote, newest first, then IM2's shipped texts."""
    require(actor, Permission.READ_CAMPAIGNS)
    rows = session.scalars(
        select(ConsentText)
        .where(ConsentText.workspace_id == actor.workspace_id)
        .order_by(ConsentText.id.desc())
    )
    shipped = [shipped_text(p, lang) for p in Purpose for lang in LOCALES]
    return [_text_read(r) for r in rows] + shipped


def text_versions(
    session: Session, *, actor: Actor, purpose: Purpose, language: str
) -> list[ConsentTextVersion]:
    """Every version of one purpose's text in one language, newest first (the workspace's,
    then IM2's shipped one), with how many people's standing grants are of each."""
    require(actor, Permission.READ_CAMPAIGNS)
    language = check_language(language)
    rows = session.scalars(
        select(ConsentText)
        .where(
            ConsentText.workspace_id == actor.workspace_id,
            ConsentText.purpose == purpose.value,
            ConsentText.language == language,
        )
        .order_by(ConsentText.id.desc())
    )
    texts = [_text_read(r) for r in rows] + [shipped_text(purpose, language)]
    agreed = dict(
        session.execute(
            select(ConsentRecord.version, func.count(func.distinct(ConsentRecord.person_id)))
            .where(
                _active(actor.workspace_id, purpose),
                ConsentRecord.language == language,
            )
            .group_by(ConsentRecord.version)
        ).all()
    )
    return [
        ConsentTextVersion(**t.model_dump(), current=i == 0, agreed=int(agreed.get(t.version, 0)))
        for i, t in enumerate(texts)
    ]


_CJK = "\u3400-\u9fff"
_HALF_WIDTH = re.compile(rf"(?<=[{_CJK}])[,.;:?!()]|[,.;:?!()](?=[{_CJK}])")


def half_width_marks(text: str) -> list[str]:
    """Half-width punctuation next to Chinese characters (，。：；？！（） are expected in
    Chinese text), each mark once, in the order found: the editor's preview points them out."""
    found: list[str] = []
    for match in _HALF_WIDTH.finditer(text):
        if match.group(0) not in found:
            found.append(match.group(0))
    return found


def do_add_text(
    session: Session, *, actor: Actor, data: ConsentTextCreate, now: datetime
) -> ConsentTextRead:
    """A new version (v1, v2 … per purpose and language) shown from now on. Grants already
    given keep the version they showed; people are not asked again by this alone."""
    require(actor, Permission.WRITE_PEOPLE)
    language = check_language(data.language)
    count = int(
        session.scalar(
            select(func.count())
            .select_from(ConsentText)
            .where(
                ConsentText.workspace_id == actor.workspace_id,
                ConsentText.purpose == data.purpose.value,
                ConsentText.language == language,
            )
        )
        or 0
    )
    row = ConsentText(
        workspace_id=actor.workspace_id,
        purpose=data.purpose.value,
        language=language,
        version=f"v{count + 1}",
        text=data.text,
        text_sha256=sha256(data.text),
        created_at=now,
        created_by=actor.label,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(
            _("Another version of this text was saved at the same moment; reload and try again."),
            field="text",
        ) from None
    record_audit(
        session,
        actor=actor,
        workspace_id=actor.workspace_id,
        action="consent_text.create",
        target_type="consent_text",
        target_id=row.id,
        summary=f"consent text {row.purpose} {language} {row.version}",
        before=None,
        after={"purpose": row.purpose, "language": language, "version": row.version},
        now=now,
    )
    return _text_read(row)


# --- grants and withdrawals ---------------------------------------------------------------------


def _active(workspace_id: int, purpose: Purpose) -> ColumnElement[bool]:
    return and_(
        ConsentRecord.workspace_id == workspace_id,
        ConsentRecord.purpose == purpose.value,
        ConsentRecord.withdrawn_at.is_(None),
    )


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
            _active(workspace_id, purpose),
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
                _active(workspace_id, purpose), ConsentRecord.person_id == person_id
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
        actor=actor,
        workspace_id=actor.workspace_id,
        action="consent.grant" if data.granted else "consent.withdraw",
        target_type="person",
        target_id=person_id,
        summary=f"consent {data.purpose.value} {'granted' if data.granted else 'withdrawn'}",
        before=None,
        after={"purpose": data.purpose.value, "granted": data.granted},
        now=now,
    )
    return states(session, workspace_id=actor.workspace_id, person_id=person_id)


def get_states(session: Session, *, actor: Actor, person_id: int) -> list[ConsentState]:
    _person(session, actor=actor, person_id=person_id)
    return states(session, workspace_id=actor.workspace_id, person_id=person_id)


# --- the conditions other work filters by -------------------------------------------------------


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
    regranted = exists().where(_active(workspace_id, purpose), ConsentRecord.person_id == Person.id)
    return ~Person.id.in_(withdrawn) | regranted


def granted(session: Session, *, workspace_id: int, purpose: Purpose) -> ColumnElement[bool]:
    """A condition on `people.id`: true for people holding a standing grant of `purpose` (what
    contacting someone for marketing needs: a yes, not only the absence of a no)."""
    del session
    return exists().where(_active(workspace_id, purpose), ConsentRecord.person_id == Person.id)


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
