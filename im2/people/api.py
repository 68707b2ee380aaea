"""JSON API for people: the list, one person with identities and merges, merge and undo."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from im2.people import service
from im2.people.schemas import MergeRead, PersonMergeCreate, PersonPage, PersonRead
from im2.web.deps import ApiActor, DbDep, NowDep
from im2.web.params import Id

router = APIRouter(prefix="/api/v1/people", tags=["people"])


@router.get("", response_model=PersonPage, summary="List people, newest first")
def list_people(
    actor: ApiActor,
    db: DbDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PersonPage:
    with db.session() as session:
        return service.list_people(session, actor=actor, cursor=cursor, limit=limit)


@router.get("/{person_id}", response_model=PersonRead, summary="One person: identities, merges")
def get_person(person_id: Id, actor: ApiActor, db: DbDep) -> PersonRead:
    with db.session() as session:
        return service.get_person(session, actor=actor, person_id=person_id)


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
