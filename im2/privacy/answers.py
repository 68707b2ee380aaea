"""The actions that answer a data-subject request: verification and refusal, the export
(marked in progress here, built after commit by `im2.privacy.jobs.build_request_export`,
downloaded, expired), correction, restriction, withdrawal of consent and erasure. Each step is
logged through `im2.privacy.tracking.log_step`; `im2.privacy.service` is the facade.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from im2.errors import Conflict, InvalidInput, NotFound
from im2.i18n import _
from im2.participation import service as participation
from im2.people import service as people
from im2.people.consent import service as consent
from im2.people.consent.schemas import ConsentChannel, Purpose
from im2.people.schemas import IdentityKind
from im2.privacy.erasure import erase_person
from im2.privacy.models import DataSubjectRequest
from im2.privacy.schemas import (
    OPEN_STATUSES,
    RequestAction,
    RequestKind,
    RequestRead,
    RequestStatus,
)
from im2.privacy.tracking import (
    EXPORTS_FOLDER,
    JOB,
    Doer,
    as_read,
    check_details,
    export_expiry,
    get_privacy_settings,
    in_workspace,
    log_step,
)
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import require

# --- acting -------------------------------------------------------------------------------------


def _writable(session: Session, *, actor: Actor, request_id: int) -> DataSubjectRequest:
    require(actor, Permission.WRITE_PEOPLE)
    return in_workspace(session, workspace_id=actor.workspace_id, request_id=request_id)


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


def _answered(
    session: Session,
    row: DataSubjectRequest,
    action: RequestAction,
    *,
    actor: Actor,
    now: datetime,
    status: RequestStatus | None = RequestStatus.DONE,
    note: str = "",
) -> RequestRead:
    """A console user's answer, logged on the request (moved to `status`), as the caller reads
    the request after it."""
    log_step(session, row, doer=Doer.of(actor), action=action, now=now, note=note, status=status)
    return as_read(row, now=now)


def do_verify(session: Session, *, actor: Actor, request_id: int, now: datetime) -> RequestRead:
    """The brand has checked that the requester is the person (e.g. by a code, a call)."""
    row = _writable(session, actor=actor, request_id=request_id)
    _open(row)
    if row.status != RequestStatus.RECEIVED.value:
        raise Conflict(_("This request is verified already."))
    return _answered(
        session, row, RequestAction.VERIFIED, actor=actor, now=now, status=RequestStatus.VERIFIED
    )


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
    return _answered(
        session, row, RequestAction.REFUSED, actor=actor, now=now, status=RequestStatus.REFUSED
    )


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
    log_step(
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
    return as_read(start_export(session, row, doer=Doer.of(actor), now=now), now=now)


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
    log_step(
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
    row = in_workspace(session, workspace_id=workspace_id, request_id=request_id)
    if person_id is not None and row.person_id != person_id:
        raise NotFound(_("Request not found."))
    if not row.export_path or row.export_expires_at is None:
        raise NotFound(_("The file is not ready yet."))
    if row.export_expires_at <= now:
        raise NotFound(_("This download has expired; ask for a new copy."))
    path = media_path / row.export_path
    if not path.is_file():
        raise NotFound(_("This download has expired; ask for a new copy."))
    log_step(session, row, doer=doer, action=RequestAction.EXPORT_DOWNLOADED, now=now)
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
    log_step(session, row, doer=JOB, action=RequestAction.EXPORT_EXPIRED, now=now)
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
    checked = check_details(RequestKind.CORRECTION, purposes=[], fields=fields)
    assert checked is not None
    values: dict[str, str] = checked["fields"]
    for participant_id in _person_participants(session, actor=actor, person_id=person_id):
        if "nickname" in values:
            participation.do_set_nickname(
                session, participant_id=participant_id, nickname=values["nickname"]
            )
    note = ", ".join(sorted(values))
    return _answered(session, row, RequestAction.CORRECTED, actor=actor, now=now, note=note)


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
        return _answered(session, row, RequestAction.RESTRICTED, actor=actor, now=now)
    if person.restricted_at is None:
        raise Conflict(_("This person's processing is not restricted."))
    person.restricted_at = None
    return _answered(session, row, RequestAction.UNRESTRICTED, actor=actor, now=now, status=None)


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
    log_step(
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
    return as_read(
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
        return as_read(row, now=now)
    _verified(row)
    if row.person_id is None:
        note = "already erased"
    else:
        # The erasure unlinks every request of the person, this one included, and deletes
        # their export files (whatever path erases them, the requests end the same).
        report = erase_person(
            session,
            workspace_id=row.workspace_id,
            person_id=row.person_id,
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
    session.refresh(row)
    return _answered(session, row, RequestAction.ERASED, actor=actor, now=now, note=note)
