"""JSON API for data-subject requests: list, record, read with the log, and the actions that
answer them. Reading asks for people:read, acting for people:write (the area `/api/v1/privacy`
asks for people:read on every route)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query
from starlette.responses import FileResponse

from im2.config import Settings
from im2.db import Database
from im2.privacy import service
from im2.privacy.jobs import build_soon
from im2.privacy.schemas import (
    CorrectionApply,
    PrivacySettingsRead,
    PrivacySettingsUpdate,
    RefusalCreate,
    RequestChannel,
    RequestCreate,
    RequestDetail,
    RequestPage,
    RequestRead,
    RequestStatus,
)
from im2.web.db_calls import read, write
from im2.web.deps import ApiActor, DbDep, NowDep, SettingsDep
from im2.web.params import Id
from im2.workspaces.schemas import Actor

router = APIRouter(prefix="/api/v1/privacy", tags=["privacy"])


@router.get("/requests", response_model=RequestPage, summary="List data-subject requests")
def list_requests(
    actor: ApiActor,
    db: DbDep,
    now: NowDep,
    status: RequestStatus | None = None,
    open: bool = False,
    person_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> RequestPage:
    return read(
        db,
        service.list_requests,
        actor=actor,
        now=now,
        status=status,
        open_only=open,
        person_id=person_id,
        cursor=cursor,
        limit=limit,
    )


@router.post(
    "/requests",
    response_model=RequestRead,
    status_code=201,
    summary="Record a data-subject request (due date from the workspace's answer period)",
)
def create_request(body: RequestCreate, actor: ApiActor, db: DbDep, now: NowDep) -> RequestRead:
    return write(
        db, service.do_create_request, actor=actor, body=body, channel=RequestChannel.API, now=now
    )


@router.get(
    "/requests/{request_id}", response_model=RequestDetail, summary="One request and its log"
)
def get_request(request_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> RequestDetail:
    return read(db, service.get_request, actor=actor, request_id=request_id, now=now)


@router.post("/requests/{request_id}/verify", response_model=RequestRead, summary="Mark verified")
def verify(request_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> RequestRead:
    return write(db, service.do_verify, actor=actor, request_id=request_id, now=now)


@router.post(
    "/requests/{request_id}/refuse", response_model=RequestRead, summary="Refuse, with the reason"
)
def refuse(
    request_id: Id, body: RefusalCreate, actor: ApiActor, db: DbDep, now: NowDep
) -> RequestRead:
    return write(
        db, service.do_refuse, actor=actor, request_id=request_id, reason=body.reason, now=now
    )


@router.post(
    "/requests/{request_id}/export",
    response_model=RequestRead,
    status_code=202,
    summary="Build the person's export zip (after this answer; the job finishes any left)",
)
def start_export(
    request_id: Id,
    actor: ApiActor,
    db: DbDep,
    now: NowDep,
    settings: SettingsDep,
    tasks: BackgroundTasks,
) -> RequestRead:
    started = write(db, service.do_start_export, actor=actor, request_id=request_id, now=now)
    tasks.add_task(
        build_soon,
        db,
        request_id=request_id,
        now=now,
        lake_path=settings.lake_path,
        media_path=settings.media_path,
    )
    return started


@router.get(
    "/requests/{request_id}/export.zip",
    summary="Download the export zip (recorded in the request's log and the audit log)",
    response_class=FileResponse,
)
def download_export(
    request_id: Id, actor: ApiActor, db: DbDep, now: NowDep, settings: SettingsDep
) -> FileResponse:
    return export_zip(db, actor=actor, request_id=request_id, now=now, settings=settings)


def export_zip(
    db: Database, *, actor: Actor, request_id: int, now: datetime, settings: Settings
) -> FileResponse:
    """The request's export zip, its download recorded (the API's and the console's)."""
    path = write(
        db,
        service.do_download_export,
        actor=actor,
        request_id=request_id,
        now=now,
        media_path=settings.media_path,
    )
    return FileResponse(
        path, media_type="application/zip", filename=f"privacy-request-{request_id}.zip"
    )


@router.post(
    "/requests/{request_id}/correct",
    response_model=RequestRead,
    summary="Apply a correction to the person's data",
)
def correct(
    request_id: Id, body: CorrectionApply, actor: ApiActor, db: DbDep, now: NowDep
) -> RequestRead:
    return write(
        db, service.do_correct, actor=actor, request_id=request_id, fields=body.fields, now=now
    )


@router.post(
    "/requests/{request_id}/restrict",
    response_model=RequestRead,
    summary="Restrict processing of the person (kept, not processed)",
)
def restrict(request_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> RequestRead:
    return write(
        db, service.do_restrict, actor=actor, request_id=request_id, restrict=True, now=now
    )


@router.post(
    "/requests/{request_id}/unrestrict",
    response_model=RequestRead,
    summary="Lift the restriction of processing",
)
def unrestrict(request_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> RequestRead:
    return write(
        db, service.do_restrict, actor=actor, request_id=request_id, restrict=False, now=now
    )


@router.post(
    "/requests/{request_id}/withdraw",
    response_model=RequestRead,
    summary="Withdraw consent for the purposes the request names, at once",
)
def withdraw(request_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> RequestRead:
    return write(db, service.do_withdraw, actor=actor, request_id=request_id, now=now)


@router.post(
    "/requests/{request_id}/erase",
    response_model=RequestRead,
    summary="Erase the person (anonymised where aggregates must stay true); idempotent",
)
def erase(
    request_id: Id, actor: ApiActor, db: DbDep, now: NowDep, settings: SettingsDep
) -> RequestRead:
    return write(
        db,
        service.do_erase,
        actor=actor,
        request_id=request_id,
        now=now,
        lake_path=settings.lake_path,
        media_path=settings.media_path,
    )


@router.get(
    "/settings", response_model=PrivacySettingsRead, summary="Answer period and export life"
)
def get_settings(actor: ApiActor, db: DbDep) -> PrivacySettingsRead:
    with db.session() as session:
        service.require_read(actor)
        return service.get_privacy_settings(session, workspace_id=actor.workspace_id)


@router.put("/settings", response_model=PrivacySettingsRead, summary="Change them")
def put_settings(
    body: PrivacySettingsUpdate, actor: ApiActor, db: DbDep, now: NowDep
) -> PrivacySettingsRead:
    return write(db, service.do_update_privacy_settings, actor=actor, update=body, now=now)
