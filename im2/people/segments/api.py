"""JSON API of segments: the live count of a rule, saved segments and their versions, members
as CSV."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from starlette.responses import Response

from im2.db import Database
from im2.people.segments import service
from im2.people.segments.schemas import (
    SegmentCount,
    SegmentCreate,
    SegmentPage,
    SegmentPreview,
    SegmentRead,
    SegmentUpdate,
    SegmentVersionRead,
)
from im2.web.db_calls import read, write
from im2.web.deps import ApiActor, DbDep, NowDep
from im2.web.downloads import csv_download
from im2.web.params import Id
from im2.workspaces.schemas import Actor

router = APIRouter(prefix="/api/v1/segments", tags=["segments"])


@router.post("/preview", response_model=SegmentCount, summary="Count the people a rule selects")
def preview(body: SegmentPreview, actor: ApiActor, db: DbDep, now: NowDep) -> SegmentCount:
    with db.session() as session:
        return SegmentCount(
            count=service.check_preview(session, actor=actor, rule=body.rule, now=now)
        )


@router.get("", response_model=SegmentPage, summary="Saved segments, last edited first")
def list_segments(actor: ApiActor, db: DbDep, archived: bool = False) -> SegmentPage:
    return read(db, service.list_segments, actor=actor, archived=archived)


@router.post("", response_model=SegmentRead, status_code=201, summary="Save a segment")
def create_segment(body: SegmentCreate, actor: ApiActor, db: DbDep, now: NowDep) -> SegmentRead:
    return write(db, service.do_create_segment, actor=actor, data=body, now=now)


@router.get("/{segment_id}", response_model=SegmentRead, summary="One segment (current version)")
def get_segment(segment_id: Id, actor: ApiActor, db: DbDep) -> SegmentRead:
    return read(db, service.get_segment, actor=actor, segment_id=segment_id)


@router.patch("/{segment_id}", response_model=SegmentRead, summary="Edit: a new version")
def update_segment(
    segment_id: Id, body: SegmentUpdate, actor: ApiActor, db: DbDep, now: NowDep
) -> SegmentRead:
    return write(
        db, service.do_update_segment, actor=actor, segment_id=segment_id, data=body, now=now
    )


@router.post("/{segment_id}/archive", response_model=SegmentRead, summary="Archive a segment")
def archive_segment(segment_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> SegmentRead:
    return write(db, service.do_archive_segment, actor=actor, segment_id=segment_id, now=now)


@router.get(
    "/{segment_id}/versions",
    response_model=list[SegmentVersionRead],
    summary="Every version of a segment, newest first",
)
def list_versions(segment_id: Id, actor: ApiActor, db: DbDep) -> list[SegmentVersionRead]:
    return read(db, service.list_versions, actor=actor, segment_id=segment_id)


@router.get("/{segment_id}/count", response_model=SegmentCount, summary="Count a saved segment")
def count_segment(segment_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> SegmentCount:
    with db.session() as session:
        service.get_segment(session, actor=actor, segment_id=segment_id)  # access check
        _ref, count = service.count_segment(
            session, workspace_id=actor.workspace_id, segment_id=segment_id, now=now
        )
        return SegmentCount(count=count)


@router.get(
    "/{segment_id}/members.csv",
    summary="The segment's people as CSV (people:read)",
    response_class=Response,
)
def export_members(segment_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> Response:
    return members_csv(db, actor=actor, segment_id=segment_id, now=now)


def members_csv(db: Database, *, actor: Actor, segment_id: int, now: datetime) -> Response:
    """The segment's people as CSV, as of `now` (the API's and the console's download)."""
    with db.session() as session:
        ref, rows = service.iter_member_rows(session, actor=actor, segment_id=segment_id, now=now)
        records = [dict(zip(service.EXPORT_COLUMNS, row, strict=True)) for row in rows]
    return csv_download(
        records,
        columns=service.EXPORT_COLUMNS,
        filename=f"segment-{ref.segment_id}-v{ref.version}.csv",
    )
