"""JSON API for people: the list (search, filters, sort), export and import, one person with
identities, merges, tags and timeline, tags, merge and undo."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.requests import Request

from im2.errors import InvalidInput
from im2.i18n import _
from im2.people import io, service
from im2.people.directory import NO_SOURCES, PeopleSources
from im2.people.schemas import (
    AccountCreate,
    IdentityKind,
    ImportReport,
    MergeRead,
    PeopleFilter,
    PeopleSort,
    PersonMergeCreate,
    PersonPage,
    PersonRead,
    TagCreate,
    TimelinePage,
)
from im2.web.deps import ApiActor, DbDep, NowDep, SettingsDep
from im2.web.params import Id

router = APIRouter(prefix="/api/v1/people", tags=["people"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def people_sources(request: Request) -> PeopleSources:
    """What the app assembly provides from the domains above people (points, nicknames)."""
    sources: PeopleSources = getattr(request.app.state, "people_sources", NO_SOURCES)
    return sources


SourcesDep = Annotated[PeopleSources, Depends(people_sources)]


def people_filter(
    q: Annotated[str | None, Query(max_length=200)] = None,
    stage: Annotated[str | None, Query(max_length=16)] = None,
    tag: Annotated[str | None, Query(max_length=32)] = None,
    attribute: Annotated[str | None, Query(max_length=233, description="name=value")] = None,
    verified: bool | None = None,
    campaign_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    seen_from: datetime | None = None,
    seen_until: datetime | None = None,
    sort: PeopleSort = PeopleSort.LAST_SEEN,
) -> PeopleFilter:
    try:
        return PeopleFilter(
            q=q,
            stage=stage,
            tag=tag,
            attribute=attribute,
            verified=verified,
            campaign_id=campaign_id,
            seen_from=seen_from,
            seen_until=seen_until,
            sort=sort,
        )
    except ValidationError as error:
        field = str(error.errors()[0]["loc"][0]) if error.errors() else None
        raise InvalidInput(_("The format is not valid."), field=field) from None


FilterDep = Annotated[PeopleFilter, Depends(people_filter)]


@router.get("", response_model=PersonPage, summary="List people, last seen first")
def list_people(
    actor: ApiActor,
    db: DbDep,
    settings: SettingsDep,
    sources: SourcesDep,
    filters: FilterDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PersonPage:
    with db.session() as session:
        return service.list_people(
            session,
            actor=actor,
            cursor=cursor,
            limit=limit,
            filters=filters,
            secret=settings.secret_key.get_secret_value(),
            sources=sources,
        )


@router.get(
    "/export.{file_format}",
    summary="Download the filtered people as CSV or Excel (owner, editor; audited)",
    response_class=Response,
)
def export_people(
    file_format: str,
    actor: ApiActor,
    db: DbDep,
    settings: SettingsDep,
    sources: SourcesDep,
    filters: FilterDep,
    now: NowDep,
) -> Response:
    with db.transaction() as session:
        data, _rows = io.export_people(
            session,
            actor=actor,
            filters=filters,
            secret=settings.secret_key.get_secret_value(),
            file_format=file_format,
            sources=sources,
            now=now,
        )
    media = XLSX if file_format == "xlsx" else "text/csv; charset=utf-8"
    return Response(
        data,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="people.{file_format}"'},
    )


@router.post(
    "/imports",
    response_model=ImportReport,
    summary="Check (dry_run) or import people from a CSV or Excel file, all rows or none",
)
async def import_people(
    actor: ApiActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    file: Annotated[UploadFile, File()],
    mapping: Annotated[str | None, Form(description='JSON: {"column": "crm|phone|...|"}')] = None,
    dry_run: Annotated[bool, Form()] = False,
) -> ImportReport:
    data = await file.read(io.MAX_IMPORT_BYTES + 1)
    chosen = _mapping(mapping)
    with db.transaction() as session:
        return io.do_import_people(
            session,
            actor=actor,
            filename=file.filename or "people.csv",
            data=data,
            mapping=chosen,
            secret=settings.secret_key.get_secret_value(),
            apply=not dry_run,
            now=now,
        )


def _mapping(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidInput(_("The format is not valid."), field="mapping") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidInput(_("The format is not valid."), field="mapping")
    return value


@router.get("/{person_id}", response_model=PersonRead, summary="One person: identities, merges")
def get_person(person_id: Id, actor: ApiActor, db: DbDep, sources: SourcesDep) -> PersonRead:
    with db.session() as session:
        return service.get_person(session, actor=actor, person_id=person_id, sources=sources)


@router.get(
    "/{person_id}/timeline",
    response_model=TimelinePage,
    summary="A person's actions across campaigns, newest first",
)
def get_timeline(
    person_id: Id,
    actor: ApiActor,
    db: DbDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 30,
) -> TimelinePage:
    with db.session() as session:
        person = service.access_person(session, actor=actor, person_id=person_id)
        return service.get_timeline(session, actor=actor, person=person, cursor=cursor, limit=limit)


@router.post(
    "/{person_id}/identities",
    response_model=PersonRead,
    status_code=201,
    summary="Give a person a social account (Weibo, Douyin or Xiaohongshu handle)",
)
def add_account(
    person_id: Id, body: AccountCreate, actor: ApiActor, db: DbDep, now: NowDep, sources: SourcesDep
) -> PersonRead:
    """The handle is normalised (spaces and leading @ dropped, lower case on Douyin and
    Xiaohongshu); a person who holds it already is merged with this one (the older kept), and
    the person holding it afterwards is returned."""
    with db.transaction() as session:
        holder = service.do_add_account(
            session,
            actor=actor,
            person_id=person_id,
            kind=IdentityKind(body.kind),
            value=body.value,
            now=now,
        )
        return service.get_person(session, actor=actor, person_id=holder, sources=sources)


@router.post("/{person_id}/tags", response_model=list[str], summary="Tag a person")
def add_tag(person_id: Id, body: TagCreate, actor: ApiActor, db: DbDep, now: NowDep) -> list[str]:
    with db.transaction() as session:
        return service.do_add_tag(session, actor=actor, person_id=person_id, tag=body.tag, now=now)


@router.delete("/{person_id}/tags/{tag}", response_model=list[str], summary="Remove a tag")
def remove_tag(person_id: Id, tag: str, actor: ApiActor, db: DbDep, now: NowDep) -> list[str]:
    with db.transaction() as session:
        return service.do_remove_tag(session, actor=actor, person_id=person_id, tag=tag, now=now)


@router.post(
    "/{person_id}/merge",
    response_model=MergeRead,
    status_code=201,
    summary="Merge this person into another (the other is kept)",
)
def merge_person(
    person_id: Id, body: PersonMergeCreate, actor: ApiActor, db: DbDep, now: NowDep
) -> MergeRead:
    with db.transaction() as session:
        return service.do_merge_people(
            session, actor=actor, person_id=person_id, into_id=body.into, now=now
        )


@router.post("/merges/{merge_id}/undo", response_model=MergeRead, summary="Undo a merge")
def undo_merge(merge_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> MergeRead:
    with db.transaction() as session:
        return service.do_undo_merge(session, actor=actor, merge_id=merge_id, now=now)
