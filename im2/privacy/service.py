"""Data-subject requests: receiving them, their due date, every step in an append-only log and
in the audit log, and the actions that answer them (export, correction, deletion, restriction,
withdrawal of consent, refusal with its reason).

A request moves received → verified → in progress → done, or to refused from any open status.
Every step appends a `RequestLogEntry` and an audit entry in the same transaction. The export
zip itself is built outside the request that asks for it (`build_request_export`, run after
commit or by the job), because a person with a long history takes seconds.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from im2.db import on_commit
from im2.errors import Conflict, InvalidInput, NotFound
from im2.i18n import _
from im2.pagination import decode_cursor, encode_cursor
from im2.participation import service as participation
from im2.people import service as people
from im2.people.consent import service as consent
from im2.people.consent.schemas import ConsentChannel, Purpose
from im2.people.schemas import IdentityKind
from im2.privacy.erasure import erase_person
from im2.privacy.models import DataSubjectRequest, PrivacySettings, RequestLogEntry
from im2.privacy.schemas import (
    CORRECTABLE_FIELDS,
    DEFAULT_DUE_DAYS,
    DEFAULT_EXPORT_DAYS,
    MAX_DUE_DAYS,
    MAX_EXPORT_DAYS,
    OPEN_STATUSES,
    LogEntryRead,
    PrivacySettingsRead,
    PrivacySettingsUpdate,
    RequestAction,
    RequestChannel,
    RequestCreate,
    RequestDetail,
    RequestKind,
    RequestPage,
    RequestRead,
    RequestStatus,
)
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

SYSTEM = "system"
PARTICIPANT = "participant"  # the person themself, on 我的数据 (after a one-time code)
EXPORTS_FOLDER = "privacy-exports"


# --- settings and the due date -------------------------------------------------------------------


def get_privacy_settings(session: Session, *, workspace_id: int) -> PrivacySettingsRead:
    row = session.get(PrivacySettings, workspace_id)
    if row is None:
        return PrivacySettingsRead(
            request_due_days=DEFAULT_DUE_DAYS, export_days=DEFAULT_EXPORT_DAYS
        )
    return PrivacySettingsRead(request_due_days=row.request_due_days, export_days=row.export_days)


def do_update_privacy_settings(
    session: Session, *, actor: Actor, update: PrivacySettingsUpdate, now: datetime
) -> PrivacySettingsRead:
    """Change the answer period (1–30 days) and how long exports can be downloaded (1–30 days).
    Requests already received keep their due date."""
    require(actor, Permission.WRITE_PEOPLE)
    before = get_privacy_settings(session, workspace_id=actor.workspace_id)
    row = session.get(PrivacySettings, actor.workspace_id)
    if row is None:
        row = PrivacySettings(workspace_id=actor.workspace_id, updated_at=now)
        session.add(row)
    row.request_due_days = update.request_due_days
    row.export_days = update.export_days
    row.updated_at = now
    record_audit(
        session,
        actor=actor,
        workspace_id=actor.workspace_id,
        action="privacy.settings",
        target_type="workspace",
        target_id=actor.workspace_id,
        summary="privacy request settings changed",
        before=before.model_dump(),
        after=update.model_dump(),
        now=now,
    )
    return PrivacySettingsRead(request_due_days=row.request_due_days, export_days=row.export_days)


def due_date(received_at: datetime, days: int) -> datetime:
    """The answer is due `days` calendar days after receipt, never more than 30 (a setting
    stored before the cap, or out of range, is clamped)."""
    return received_at + timedelta(days=max(1, min(days, MAX_DUE_DAYS)))


def export_expiry(made_at: datetime, days: int) -> datetime:
    return made_at + timedelta(days=max(1, min(days, MAX_EXPORT_DAYS)))


# --- reading ------------------------------------------------------------------------------------


def _read(row: DataSubjectRequest, *, now: datetime) -> RequestRead:
    status = RequestStatus(row.status)
    return RequestRead(
        id=row.id,
        person_id=row.person_id,
        kind=RequestKind(row.kind),
        channel=RequestChannel(row.channel),
        status=status,
        received_at=row.received_at,
        due_at=row.due_at,
        overdue=status in OPEN_STATUSES and row.due_at < now,
        verified_at=row.verified_at,
        closed_at=row.closed_at,
        refusal_reason=row.refusal_reason,
        details=row.details,
        export_ready=bool(row.export_path)
        and row.export_expires_at is not None
        and row.export_expires_at > now,
        export_bytes=row.export_bytes,
        export_expires_at=row.export_expires_at,
    )


def _in_workspace(session: Session, *, workspace_id: int, request_id: int) -> DataSubjectRequest:
    row = session.get(DataSubjectRequest, request_id)
    if row is None or row.workspace_id != workspace_id:
        raise NotFound(_("Request not found."))
    return row


def require_read(actor: Actor) -> None:
    require(actor, Permission.READ_PEOPLE)


def access_request(session: Session, *, actor: Actor, request_id: int) -> DataSubjectRequest:
    require(actor, Permission.READ_PEOPLE)
    return _in_workspace(session, workspace_id=actor.workspace_id, request_id=request_id)


def list_requests(
    session: Session,
    *,
    actor: Actor,
    now: datetime,
    status: RequestStatus | None = None,
    open_only: bool = False,
    person_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> RequestPage:
    """The workspace's requests, newest first."""
    require(actor, Permission.READ_PEOPLE)
    query = select(DataSubjectRequest).where(DataSubjectRequest.workspace_id == actor.workspace_id)
    if status is not None:
        query = query.where(DataSubjectRequest.status == status.value)
    if open_only:
        query = query.where(DataSubjectRequest.status.in_([s.value for s in OPEN_STATUSES]))
    if person_id is not None:
        query = query.where(DataSubjectRequest.person_id == person_id)
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(DataSubjectRequest.id < after)
    rows = list(session.scalars(query.order_by(DataSubjectRequest.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return RequestPage(
        items=[_read(r, now=now) for r in rows],
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
    )


def _log_rows(session: Session, request_id: int) -> list[LogEntryRead]:
    return [
        LogEntryRead.model_validate(r)
        for r in session.scalars(
            select(RequestLogEntry)
            .where(RequestLogEntry.request_id == request_id)
            .order_by(RequestLogEntry.id)
        )
    ]


def get_request(session: Session, *, actor: Actor, request_id: int, now: datetime) -> RequestDetail:
    row = access_request(session, actor=actor, request_id=request_id)
    return RequestDetail(**_read(row, now=now).model_dump(), log=_log_rows(session, row.id))


def list_person_requests(
    session: Session, *, workspace_id: int, person_id: int, now: datetime
) -> list[RequestRead]:
    """A person's own requests, newest first (for their 我的数据 page)."""
    rows = session.scalars(
        select(DataSubjectRequest)
        .where(
            DataSubjectRequest.workspace_id == workspace_id,
            DataSubjectRequest.person_id == person_id,
        )
        .order_by(DataSubjectRequest.id.desc())
        .limit(50)
    )
    return [_read(r, now=now) for r in rows]


# --- the log ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Doer:
    """Who takes a step: a console user or token (`actor`), the person themself, or a job."""

    label: str
    actor: Actor | None = None

    @staticmethod
    def of(actor: Actor) -> Doer:
        return Doer(label=actor.label, actor=actor)


PERSON = Doer(label=PARTICIPANT)
JOB = Doer(label=SYSTEM)


def _step(
    session: Session,
    row: DataSubjectRequest,
    *,
    doer: Doer,
    action: RequestAction,
    now: datetime,
    note: str = "",
    status: RequestStatus | None = None,
) -> None:
    """Move the request to `status` (if given) and record the step in its log and in the
    audit log. Notes carry field names and counts, never the personal values."""
    before = row.status
    if status is not None:
        row.status = status.value
        if status in (RequestStatus.DONE, RequestStatus.REFUSED):
            row.closed_at = now
        if status is RequestStatus.VERIFIED and row.verified_at is None:
            row.verified_at = now
    session.add(
        RequestLogEntry(
            request_id=row.id,
            occurred_at=now,
            actor=doer.label[:254],
            action=action.value,
            status=row.status,
            note=note,
        )
    )
    record_audit(
        session,
        actor=doer.actor,
        workspace_id=row.workspace_id,
        action=f"privacy.{action.value}",
        target_type="privacy_request",
        target_id=row.id,
        summary=f"{row.kind} request #{row.id}: {action.value}" + (f" ({note})" if note else ""),
        before={"status": before},
        after={"status": row.status, "by": doer.label, "person_id": row.person_id},
        now=now,
    )


# --- receiving ----------------------------------------------------------------------------------


def _live_person_id(session: Session, *, actor: Actor, person_id: int) -> int:
    """The person the request is about (404 for another workspace's), followed through merges
    to the person who holds their data now."""
    row = people.access_person(session, actor=actor, person_id=person_id)
    seen = {row.id}
    while row.merged_into_id is not None and row.merged_into_id not in seen:
        row = people.access_person(session, actor=actor, person_id=row.merged_into_id)
        seen.add(row.id)
    return row.id


def _check_nickname(value: str) -> None:
    """The nickname rules, checked when the request is made so that a correction that could
    never be applied is refused at once (`do_set_nickname` checks them again when applied)."""
    name = " ".join(value.split())
    if not name:
        raise InvalidInput(_("This field is required."), field="nickname")
    if len(name) > participation.NICKNAME_MAX:
        raise InvalidInput(
            _("At most {n} characters.").format(n=participation.NICKNAME_MAX), field="nickname"
        )
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidInput(_("The format is not valid."), field="nickname")


def _check_details(
    kind: RequestKind, *, purposes: list[str], fields: dict[str, str]
) -> dict[str, Any] | None:
    if kind is RequestKind.CORRECTION:
        if not fields:
            raise InvalidInput(_("Say which field to correct."), field="fields")
        for name, value in fields.items():
            if name not in CORRECTABLE_FIELDS:
                raise InvalidInput(
                    _("This field cannot be corrected here: {name}.").format(name=name),
                    field="fields",
                )
            _check_nickname(value)
        return {"fields": {k: " ".join(v.split()) for k, v in fields.items()}}
    if kind is RequestKind.WITHDRAWAL:
        cleaned = sorted({p.strip() for p in purposes if p.strip()})
        if not cleaned:
            raise InvalidInput(_("Choose at least one purpose."), field="purposes")
        known = {p.value for p in Purpose}
        if any(p not in known for p in cleaned):
            raise InvalidInput(_("Choose one of the options."), field="purposes")
        return {"purposes": cleaned}
    return None


def _new_request(
    session: Session,
    *,
    workspace_id: int,
    person_id: int,
    kind: RequestKind,
    channel: RequestChannel,
    details: dict[str, Any] | None,
    verified: bool,
    doer: Doer,
    now: datetime,
    note: str = "",
) -> DataSubjectRequest:
    settings = get_privacy_settings(session, workspace_id=workspace_id)
    row = DataSubjectRequest(
        workspace_id=workspace_id,
        person_id=person_id,
        kind=kind.value,
        channel=channel.value,
        status=RequestStatus.RECEIVED.value,
        received_at=now,
        due_at=due_date(now, settings.request_due_days),
        details=details,
    )
    session.add(row)
    session.flush()
    _step(session, row, doer=doer, action=RequestAction.RECEIVED, now=now, note=note[:1000])
    if verified:
        _step(
            session,
            row,
            doer=doer,
            action=RequestAction.VERIFIED,
            now=now,
            status=RequestStatus.VERIFIED,
            note=_("one-time code") if channel is RequestChannel.SELF_SERVICE else "",
        )
    return row


def do_create_request(
    session: Session,
    *,
    actor: Actor,
    body: RequestCreate,
    channel: RequestChannel,
    now: datetime,
) -> RequestRead:
    """Record a request the brand received (console) or a client sent (API)."""
    require(actor, Permission.WRITE_PEOPLE)
    person_id = _live_person_id(session, actor=actor, person_id=body.person_id)
    details = _check_details(body.kind, purposes=body.purposes, fields=body.fields)
    row = _new_request(
        session,
        workspace_id=actor.workspace_id,
        person_id=person_id,
        kind=body.kind,
        channel=channel,
        details=details,
        verified=body.verified,
        doer=Doer.of(actor),
        now=now,
        note=body.note,
    )
    return _read(row, now=now)


def do_self_service_request(
    session: Session,
    *,
    workspace_id: int,
    person_id: int,
    kind: RequestKind,
    now: datetime,
    purposes: list[str] | None = None,
    fields: dict[str, str] | None = None,
) -> DataSubjectRequest:
    """A request from the person on their 我的数据 page. The caller has checked that the
    requester proved control of one of the person's verified identities with a one-time code,
    so the request starts verified."""
    details = _check_details(kind, purposes=purposes or [], fields=fields or {})
    return _new_request(
        session,
        workspace_id=workspace_id,
        person_id=person_id,
        kind=kind,
        channel=RequestChannel.SELF_SERVICE,
        details=details,
        verified=True,
        doer=PERSON,
        now=now,
    )


# --- acting -------------------------------------------------------------------------------------


def _writable(session: Session, *, actor: Actor, request_id: int) -> DataSubjectRequest:
    require(actor, Permission.WRITE_PEOPLE)
    return _in_workspace(session, workspace_id=actor.workspace_id, request_id=request_id)


def _open(row: DataSubjectRequest) -> None:
    if RequestStatus(row.status) not in OPEN_STATUSES:
        raise Conflict(_("This request is already closed."))


def _verified(row: DataSubjectRequest) -> None:
    _open(row)
    if row.status == RequestStatus.RECEIVED.value:
        raise Conflict(_("Verify the requester's identity first."))


def _of_kind(row: DataSubjectRequest, *kinds: RequestKind) -> None:
    if RequestKind(row.kind) not in kinds:
        raise Conflict(_("This action does not answer this kind of request."))


def _person_of(row: DataSubjectRequest) -> int:
    if row.person_id is None:
        raise Conflict(_("This person's data has been deleted."))
    return row.person_id


def do_verify(session: Session, *, actor: Actor, request_id: int, now: datetime) -> RequestRead:
    """The brand has checked that the requester is the person (e.g. by a code, a call)."""
    row = _writable(session, actor=actor, request_id=request_id)
    _open(row)
    if row.status != RequestStatus.RECEIVED.value:
        raise Conflict(_("This request is verified already."))
    _step(
        session,
        row,
        doer=Doer.of(actor),
        action=RequestAction.VERIFIED,
        now=now,
        status=RequestStatus.VERIFIED,
    )
    return _read(row, now=now)


def do_refuse(
    session: Session, *, actor: Actor, request_id: int, reason: str, now: datetime
) -> RequestRead:
    """Refuse with the reason the person is told (PIPL Art. 50)."""
    row = _writable(session, actor=actor, request_id=request_id)
    reason = reason.strip()
    if not reason:
        raise InvalidInput(_("Give the reason the person will be told."), field="reason")
    if len(reason) > 2000:
        raise InvalidInput(_("At most {n} characters.").format(n=2000), field="reason")
    _open(row)
    row.refusal_reason = reason
    _step(
        session,
        row,
        doer=Doer.of(actor),
        action=RequestAction.REFUSED,
        now=now,
        status=RequestStatus.REFUSED,
    )
    return _read(row, now=now)


def start_export(
    session: Session, row: DataSubjectRequest, *, doer: Doer, now: datetime
) -> DataSubjectRequest:
    """Mark an access request in progress; the zip is built by `build_request_export` after
    commit (or by the job)."""
    _of_kind(row, RequestKind.ACCESS)
    _verified(row)
    _person_of(row)
    if row.status == RequestStatus.IN_PROGRESS.value:
        return row  # already asked: building it twice would not help
    _step(
        session,
        row,
        doer=doer,
        action=RequestAction.EXPORT_STARTED,
        now=now,
        status=RequestStatus.IN_PROGRESS,
    )
    return row


def do_start_export(
    session: Session, *, actor: Actor, request_id: int, now: datetime
) -> RequestRead:
    require(actor, Permission.EXPORT_DATA)
    row = _writable(session, actor=actor, request_id=request_id)
    return _read(start_export(session, row, doer=Doer.of(actor), now=now), now=now)


def pending_exports(session: Session, *, limit: int = 20) -> list[int]:
    """Access requests in progress whose file is not made yet, oldest first."""
    return list(
        session.scalars(
            select(DataSubjectRequest.id)
            .where(
                DataSubjectRequest.kind == RequestKind.ACCESS.value,
                DataSubjectRequest.status == RequestStatus.IN_PROGRESS.value,
                DataSubjectRequest.export_path.is_(None),
            )
            .order_by(DataSubjectRequest.id)
            .limit(limit)
        )
    )


@dataclass(frozen=True, slots=True)
class ExportTarget:
    request_id: int
    workspace_id: int
    person_id: int


def export_target(session: Session, *, request_id: int) -> ExportTarget | None:
    """What to export for a request still waiting for its file, else None."""
    row = session.get(DataSubjectRequest, request_id)
    if (
        row is None
        or row.person_id is None
        or row.status != RequestStatus.IN_PROGRESS.value
        or row.export_path is not None
    ):
        return None
    return ExportTarget(request_id=row.id, workspace_id=row.workspace_id, person_id=row.person_id)


def do_attach_export(
    session: Session, *, request_id: int, name: str, size: int, now: datetime
) -> bool:
    """Record the built file (`name`, relative to the media folder) on its request and close
    it (done). False when another builder got there first (the caller deletes its own file):
    a conditional UPDATE decides."""
    row = session.get(DataSubjectRequest, request_id)
    if row is None:
        return False
    days = get_privacy_settings(session, workspace_id=row.workspace_id).export_days
    won = session.execute(
        update(DataSubjectRequest)
        .where(
            DataSubjectRequest.id == request_id,
            DataSubjectRequest.export_path.is_(None),
            DataSubjectRequest.status == RequestStatus.IN_PROGRESS.value,
        )
        .values(
            export_path=name,
            export_bytes=size,
            export_expires_at=export_expiry(now, days),
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if not won:
        return False
    session.refresh(row)
    _step(
        session,
        row,
        doer=JOB,
        action=RequestAction.EXPORT_READY,
        now=now,
        status=RequestStatus.DONE,
        note=f"{size} bytes",
    )
    return True


def export_file(
    session: Session,
    *,
    workspace_id: int,
    request_id: int,
    doer: Doer,
    now: datetime,
    media_path: Path,
    person_id: int | None = None,
) -> Path:
    """The export file of a request for download, recorded in the log and the audit log (every
    export of personal data is). `person_id` restricts it to the person's own request."""
    row = _in_workspace(session, workspace_id=workspace_id, request_id=request_id)
    if person_id is not None and row.person_id != person_id:
        raise NotFound(_("Request not found."))
    if not row.export_path or row.export_expires_at is None:
        raise NotFound(_("The file is not ready yet."))
    if row.export_expires_at <= now:
        raise NotFound(_("This download has expired; ask for a new copy."))
    path = media_path / row.export_path
    if not path.is_file():
        raise NotFound(_("This download has expired; ask for a new copy."))
    _step(session, row, doer=doer, action=RequestAction.EXPORT_DOWNLOADED, now=now)
    return path


def do_download_export(
    session: Session, *, actor: Actor, request_id: int, now: datetime, media_path: Path
) -> Path:
    require(actor, Permission.READ_PEOPLE)
    require(actor, Permission.EXPORT_DATA)
    return export_file(
        session,
        workspace_id=actor.workspace_id,
        request_id=request_id,
        doer=Doer.of(actor),
        now=now,
        media_path=media_path,
    )


def expired_exports(session: Session, *, now: datetime, limit: int = 100) -> list[int]:
    return list(
        session.scalars(
            select(DataSubjectRequest.id)
            .where(
                DataSubjectRequest.export_path.is_not(None),
                DataSubjectRequest.export_expires_at <= now,
            )
            .order_by(DataSubjectRequest.id)
            .limit(limit)
        )
    )


def do_expire_export(session: Session, *, request_id: int, now: datetime) -> str | None:
    """Forget an expired export file; returns its name (relative to the media folder) for the
    caller to delete after commit (a failed commit leaves the file and its record, and the next
    run deletes both)."""
    row = session.get(DataSubjectRequest, request_id)
    if row is None or row.export_path is None:
        return None
    path = row.export_path
    row.export_path = None
    _step(session, row, doer=JOB, action=RequestAction.EXPORT_EXPIRED, now=now)
    return path


def new_export_name(request_id: int) -> str:
    """The file of an export, relative to the media folder: a private sub-folder (the media
    routes serve only `ugc/<activity>/<name>`) and a name nobody can guess."""
    return f"{EXPORTS_FOLDER}/request-{request_id}-{secrets.token_hex(12)}.zip"


def _person_participants(session: Session, *, actor: Actor, person_id: int) -> list[int]:
    found = people.get_person(session, actor=actor, person_id=person_id)
    return [
        int(i.value)
        for i in found.identities
        if i.kind == IdentityKind.PARTICIPANT.value and i.value is not None
    ]


def do_correct(
    session: Session,
    *,
    actor: Actor,
    request_id: int,
    fields: dict[str, str],
    now: datetime,
) -> RequestRead:
    """Apply the corrected values to every participant of the person and close the request.
    The log names the fields, not the values."""
    row = _writable(session, actor=actor, request_id=request_id)
    _of_kind(row, RequestKind.CORRECTION)
    _verified(row)
    person_id = _person_of(row)
    checked = _check_details(RequestKind.CORRECTION, purposes=[], fields=fields)
    assert checked is not None
    values: dict[str, str] = checked["fields"]
    for participant_id in _person_participants(session, actor=actor, person_id=person_id):
        if "nickname" in values:
            participation.do_set_nickname(
                session, participant_id=participant_id, nickname=values["nickname"]
            )
    _step(
        session,
        row,
        doer=Doer.of(actor),
        action=RequestAction.CORRECTED,
        now=now,
        status=RequestStatus.DONE,
        note=", ".join(sorted(values)),
    )
    return _read(row, now=now)


def do_restrict(
    session: Session, *, actor: Actor, request_id: int, restrict: bool, now: datetime
) -> RequestRead:
    """Restrict processing of the person (kept, left out of segments, the ladder, exports and
    marketing webhooks), or lift it. Restricting closes the request; lifting is logged on it."""
    row = _writable(session, actor=actor, request_id=request_id)
    _of_kind(row, RequestKind.RESTRICTION)
    person = people.access_person(session, actor=actor, person_id=_person_of(row))
    if restrict:
        _verified(row)
        if person.restricted_at is None:
            person.restricted_at = now
        _step(
            session,
            row,
            doer=Doer.of(actor),
            action=RequestAction.RESTRICTED,
            now=now,
            status=RequestStatus.DONE,
        )
    else:
        if person.restricted_at is None:
            raise Conflict(_("This person's processing is not restricted."))
        person.restricted_at = None
        _step(session, row, doer=Doer.of(actor), action=RequestAction.UNRESTRICTED, now=now)
    return _read(row, now=now)


def do_forget_requests(session: Session, *, workspace_id: int, person_id: int) -> list[str]:
    """Before an erasure: unlink the person's requests from them (person_id NULL, so that the
    erasure does not move them to the anonymous stand-in and a second deletion request reads
    "already erased"), blank what they asked for, and drop their export files from the
    records; returns the files for the caller to delete after commit. The requests and their
    logs stay, as the brand's record of having answered."""
    files: list[str] = []
    for row in session.scalars(
        select(DataSubjectRequest).where(
            DataSubjectRequest.workspace_id == workspace_id,
            DataSubjectRequest.person_id == person_id,
        )
    ):
        row.details = None
        row.person_id = None
        if row.export_path:
            files.append(row.export_path)
            row.export_path = None
    return files


def withdraw(
    session: Session, row: DataSubjectRequest, *, doer: Doer, channel: ConsentChannel, now: datetime
) -> DataSubjectRequest:
    """Withdraw consent for the purposes the request names, at once (excluded from segments,
    marketing webhooks and exports from the next query on), and close the request."""
    _of_kind(row, RequestKind.WITHDRAWAL)
    _verified(row)
    person_id = _person_of(row)
    purposes = [Purpose(p) for p in (row.details or {}).get("purposes", [])]
    for purpose in purposes:
        consent.do_withdraw(
            session,
            workspace_id=row.workspace_id,
            person_id=person_id,
            purpose=purpose,
            channel=channel,
            now=now,
        )
    _step(
        session,
        row,
        doer=doer,
        action=RequestAction.WITHDRAWN,
        now=now,
        status=RequestStatus.DONE,
        note=", ".join(p.value for p in purposes),
    )
    return row


def do_withdraw(session: Session, *, actor: Actor, request_id: int, now: datetime) -> RequestRead:
    row = _writable(session, actor=actor, request_id=request_id)
    return _read(
        withdraw(session, row, doer=Doer.of(actor), channel=ConsentChannel.API, now=now), now=now
    )


def do_erase(
    session: Session,
    *,
    actor: Actor,
    request_id: int,
    now: datetime,
    lake_path: Path,
    media_path: Path,
) -> RequestRead:
    """Erase the person of a verified deletion request (`im2.privacy.erasure`: rows deleted or
    anonymised, media and export files deleted, events kept countable under a random id; the
    lake is rewritten after commit by its job) and close the request. Erasing someone already
    erased, or answering a request already done, is a no-op that says so in the log."""
    row = _writable(session, actor=actor, request_id=request_id)
    _of_kind(row, RequestKind.DELETION)
    if row.status == RequestStatus.DONE.value:
        return _read(row, now=now)
    _verified(row)
    if row.person_id is None:
        note = "already erased"
    else:
        person_id = row.person_id
        files = do_forget_requests(session, workspace_id=row.workspace_id, person_id=person_id)
        session.flush()
        report = erase_person(
            session,
            workspace_id=row.workspace_id,
            person_id=person_id,
            now=now,
            lake_path=lake_path,
            media_path=media_path,
            reason=f"privacy_request:{row.id}",
        )
        note = (
            "already erased"
            if report.already_erased
            else f"erasure #{report.erasure_id}: "
            f"{sum(report.rows_deleted.values())} rows deleted, "
            f"{sum(report.rows_anonymised.values())} anonymised, "
            f"{report.events_rewritten} events re-keyed, {report.media_deleted} files"
        )

        def _delete_files() -> None:
            for name in files:
                (media_path / name).unlink(missing_ok=True)

        on_commit(session, _delete_files)
    session.refresh(row)
    _step(
        session,
        row,
        doer=Doer.of(actor),
        action=RequestAction.ERASED,
        now=now,
        status=RequestStatus.DONE,
        note=note,
    )
    return _read(row, now=now)
