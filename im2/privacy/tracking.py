"""Data-subject requests, received and tracked: the workspace's answer period and the due
date, reading requests, the append-only log of every step (`log_step`, also in the audit log),
receiving a request from the console, the API or the person on 我的数据, and unlinking a
person's requests when they are erased. The actions that answer a request are in
`im2.privacy.answers`; `im2.privacy.service` is the facade other modules import.

A request moves received → verified → in progress → done, or to refused from any open status.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.errors import InvalidInput, NotFound
from im2.i18n import _
from im2.pagination import decode_cursor, encode_cursor
from im2.participation import service as participation
from im2.people import service as people
from im2.people.consent.schemas import Purpose
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
        actor,
        "privacy.settings",
        ("workspace", actor.workspace_id),
        "privacy request settings changed",
        now=now,
        before=before.model_dump(),
        after=update.model_dump(),
    )
    return PrivacySettingsRead(request_due_days=row.request_due_days, export_days=row.export_days)


def due_date(received_at: datetime, days: int) -> datetime:
    """The answer is due `days` calendar days after receipt, never more than 30 (a setting
    stored before the cap, or out of range, is clamped)."""
    return received_at + timedelta(days=max(1, min(days, MAX_DUE_DAYS)))


def export_expiry(made_at: datetime, days: int) -> datetime:
    return made_at + timedelta(days=max(1, min(days, MAX_EXPORT_DAYS)))


# --- reading ------------------------------------------------------------------------------------


def as_read(row: DataSubjectRequest, *, now: datetime) -> RequestRead:
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


def in_workspace(session: Session, *, workspace_id: int, request_id: int) -> DataSubjectRequest:
    row = session.get(DataSubjectRequest, request_id)
    if row is None or row.workspace_id != workspace_id:
        raise NotFound(_("Request not found."))
    return row


def require_read(actor: Actor) -> None:
    require(actor, Permission.READ_PEOPLE)


def access_request(session: Session, *, actor: Actor, request_id: int) -> DataSubjectRequest:
    require(actor, Permission.READ_PEOPLE)
    return in_workspace(session, workspace_id=actor.workspace_id, request_id=request_id)


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
        items=[as_read(r, now=now) for r in rows],
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
    return RequestDetail(**as_read(row, now=now).model_dump(), log=_log_rows(session, row.id))


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
    return [as_read(r, now=now) for r in rows]


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


def log_step(
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
        doer.actor,
        f"privacy.{action.value}",
        ("privacy_request", row.id),
        f"{row.kind} request #{row.id}: {action.value}" + (f" ({note})" if note else ""),
        now=now,
        before={"status": before},
        after={"status": row.status, "by": doer.label, "person_id": row.person_id},
        workspace_id=row.workspace_id,
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


def check_details(
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
    log_step(session, row, doer=doer, action=RequestAction.RECEIVED, now=now, note=note[:1000])
    if verified:
        log_step(
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
    details = check_details(body.kind, purposes=body.purposes, fields=body.fields)
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
    return as_read(row, now=now)


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
    details = check_details(kind, purposes=purposes or [], fields=fields or {})
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


# --- erasure -----------------------------------------------------------------------------------


def forget_requests(
    session: Session, *, workspace_id: int, person_ids: Iterable[int]
) -> tuple[int, list[str]]:
    """Part of every erasure (`im2.privacy.erasure.erase_person`, whoever calls it: a deletion
    request, retention): unlink the person's requests from them (person_id NULL, never the
    anonymous stand-in, so no request leads to the stand-in and a later deletion request reads
    "already erased"), blank what they asked for, and drop their export files from the
    records. Returns (requests unlinked, export files for the caller to delete). The requests
    and their logs stay, as the brand's record of having answered (PIPL Art. 50)."""
    files: list[str] = []
    count = 0
    for row in session.scalars(
        select(DataSubjectRequest).where(
            DataSubjectRequest.workspace_id == workspace_id,
            DataSubjectRequest.person_id.in_(sorted(set(person_ids))),
        )
    ):
        count += 1
        row.details = None
        row.person_id = None
        if row.export_path:
            files.append(row.export_path)
            row.export_path = None
    return count, files
