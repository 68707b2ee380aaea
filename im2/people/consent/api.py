"""JSON API of consent by purpose: the workspace's texts, and a person's grants."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from im2.people.consent import service
from im2.people.consent.schemas import (
    ConsentChange,
    ConsentRecordRead,
    ConsentState,
    ConsentTextCreate,
    ConsentTextRead,
)
from im2.web.deps import ApiActor, DbDep, NowDep
from im2.web.params import Id

router = APIRouter(prefix="/api/v1", tags=["consent"])


class PersonConsents(BaseModel):
    states: list[ConsentState]
    records: list[ConsentRecordRead]


@router.get(
    "/consent-texts",
    response_model=list[ConsentTextRead],
    summary="Consent texts: the workspace's versions, newest first, then IM2's own",
)
def list_texts(actor: ApiActor, db: DbDep) -> list[ConsentTextRead]:
    with db.session() as session:
        return service.list_texts(session, actor=actor)


@router.post(
    "/consent-texts",
    response_model=ConsentTextRead,
    status_code=201,
    summary="A new version of a purpose's text in one language, shown from now on",
)
def add_text(body: ConsentTextCreate, actor: ApiActor, db: DbDep, now: NowDep) -> ConsentTextRead:
    with db.transaction() as session:
        return service.do_add_text(session, actor=actor, data=body, now=now)


@router.get(
    "/people/{person_id}/consents",
    response_model=PersonConsents,
    summary="Where a person stands on each purpose, and every grant and withdrawal",
)
def person_consents(person_id: Id, actor: ApiActor, db: DbDep) -> PersonConsents:
    with db.session() as session:
        return PersonConsents(
            states=service.get_states(session, actor=actor, person_id=person_id),
            records=service.list_records(session, actor=actor, person_id=person_id),
        )


@router.post(
    "/people/{person_id}/consents",
    response_model=list[ConsentState],
    summary="Record a grant or withdrawal the brand received itself",
)
def change_consent(
    person_id: Id, body: ConsentChange, actor: ApiActor, db: DbDep, now: NowDep
) -> list[ConsentState]:
    with db.transaction() as session:
        return service.do_record_change(
            session, actor=actor, person_id=person_id, data=body, now=now
        )
