"""JSON API of live Q&A: the brand's side (create, moderate, read the board) and the
participant's (ask, upvote, read the shown questions)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from im2.activities.formats.api import ParticipantApiDep
from im2.activities.formats.qa import service
from im2.activities.formats.qa.live import refresh_boards_on_commit
from im2.activities.formats.qa.schemas import (
    AskIn,
    AskReceipt,
    ModerateIn,
    QaPublic,
    QuestionBoard,
    QuestionRead,
    QuestionSort,
    UpvoteIn,
    UpvoteReceipt,
)
from im2.web.deps import (
    ApiActor,
    DbDep,
    HubDep,
    NowDep,
    VisitorDep,
)
from im2.web.params import Id

router = APIRouter(prefix="/api/v1", tags=["qa"])


@router.get(
    "/qas/{activity_id}/questions",
    response_model=QuestionBoard,
    summary="Every question, pending and hidden ones included (the moderation queue)",
)
def questions(
    activity_id: Id, actor: ApiActor, db: DbDep, sort: QuestionSort = QuestionSort.VOTES
) -> QuestionBoard:
    with db.session() as session:
        return service.moderation_board(session, actor=actor, activity_id=activity_id, sort=sort)


@router.post(
    "/qas/{activity_id}/questions/{question_id}/moderation",
    response_model=QuestionRead,
    summary="Approve, hide, pin or mark a question answered",
)
def moderate(
    activity_id: Id,
    question_id: Id,
    body: ModerateIn,
    actor: ApiActor,
    db: DbDep,
    hub: HubDep,
    now: NowDep,
) -> QuestionRead:
    with db.transaction() as session:
        read = service.do_moderate(
            session,
            actor=actor,
            activity_id=activity_id,
            question_id=question_id,
            action=body.action,
            now=now,
        )
        refresh_boards_on_commit(session, db=db, hub=hub, activity_id=activity_id)
    return read


@router.get(
    "/public/campaigns/{slug}/qas/{activity_id}",
    response_model=QaPublic,
    tags=["participants"],
    summary="The shown questions, which ones this device upvoted, and its questions in review",
)
def public_qa(
    slug: str,
    activity_id: Id,
    db: DbDep,
    visitor: VisitorDep,
    sort: QuestionSort = QuestionSort.VOTES,
) -> QaPublic:
    with db.session() as session:
        view = service.view_qa(
            session, slug=slug, activity_id=activity_id, device_id=visitor.device_id, sort=sort
        )
    return QaPublic(
        **view.board.model_dump(exclude={"pending"}),
        open=view.open,
        closed_reason=view.closed_reason,
        my_upvotes=sorted(view.my_upvotes),
        my_waiting=view.my_waiting,
    )


@router.get(
    "/public/campaigns/{slug}/qas/{activity_id}/questions",
    response_model=QuestionBoard,
    tags=["participants"],
    summary="The questions shown to the audience, pinned first",
)
def public_questions(
    slug: str,
    activity_id: Id,
    db: DbDep,
    visitor: VisitorDep,
    sort: QuestionSort = QuestionSort.VOTES,
) -> QuestionBoard:
    with db.session() as session:
        return service.view_qa(
            session, slug=slug, activity_id=activity_id, device_id=visitor.device_id, sort=sort
        ).board


@router.post(
    "/public/campaigns/{slug}/qas/{activity_id}/questions",
    response_model=AskReceipt,
    status_code=201,
    tags=["participants"],
    summary="Ask a question as the participant whose device cookie comes with the request",
)
def ask(
    slug: str,
    activity_id: Id,
    body: AskIn,
    hub: HubDep,
    act: ParticipantApiDep,
) -> AskReceipt:
    def write(session: Session) -> AskReceipt:
        receipt = service.do_ask(
            session,
            slug=slug,
            activity_id=activity_id,
            text=body.text,
            nickname=body.nickname,
            **act.rules(body.consent),
        )
        refresh_boards_on_commit(session, db=act.db, hub=hub, activity_id=activity_id)
        return receipt

    return act.write(write, consent=body)


@router.post(
    "/public/campaigns/{slug}/qas/{activity_id}/questions/{question_id}/upvotes",
    response_model=UpvoteReceipt,
    status_code=201,
    tags=["participants"],
    summary="Upvote a question (once per participant)",
)
def upvote(
    slug: str,
    activity_id: Id,
    question_id: Id,
    body: UpvoteIn,
    hub: HubDep,
    act: ParticipantApiDep,
) -> UpvoteReceipt:
    def write(session: Session) -> UpvoteReceipt:
        receipt = service.do_upvote(
            session,
            slug=slug,
            activity_id=activity_id,
            question_id=question_id,
            **act.rules(body.consent),
        )
        refresh_boards_on_commit(session, db=act.db, hub=hub, activity_id=activity_id)
        return receipt

    return act.write(write, consent=body)
