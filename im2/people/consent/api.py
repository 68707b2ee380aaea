"""JSON API of consent by purpose: the workspace's texts, and a person's grants."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from im2.i18n import DEFAULT_LOCALE
from im2.people.consent import service
from im2.people.consent.schemas import (
    ConsentChange,
    ConsentRecordRead,
    ConsentState,
    ConsentTextCreate,
    ConsentTextRead,
    ConsentTextVersion,
    Purpose,
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


@router.get(
    "/consent-texts/versions",
    response_model=list[ConsentTextVersion],
    summary="One purpose's text in one language: every version, newest (shown now) first, "
    "with how many people agreed to each",
)
def text_versions(
    purpose: Purpose, actor: ApiActor, db: DbDep, language: str = DEFAULT_LOCALE
) -> list[ConsentTextVersion]:
    with db.session() as session:
        return service.text_versions(session, actor=actor, purpose=purpose, language=language)


class ConsentTextPreview(BaseModel):
    text: str
    sha256: str
    # Half-width punctuation found next to Chinese characters (，。：；？！（） expected).
    half_width_marks: list[str]


@router.post(
    "/consent-texts/preview",
    response_model=ConsentTextPreview,
    summary="Check a draft without publishing it: the text as it would be stored, its hash, "
    "and half-width punctuation in Chinese text",
)
def preview_text(body: ConsentTextCreate, actor: ApiActor, db: DbDep) -> ConsentTextPreview:
    with db.session() as session:  # the reader's rights and the language are checked
        service.text_versions(session, actor=actor, purpose=body.purpose, language=body.language)
    marks = service.half_width_marks(body.text) if body.language.startswith("zh") else []
    return ConsentTextPreview(
        text=body.text, sha256=service.sha256(body.text), half_width_marks=marks
    )


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
