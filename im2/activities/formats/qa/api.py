"""JSON API of live Q&A: the brand's side (create, moderate, read the board) and the
participant's (ask, upvote, read the shown questions)."""

from __future__ import annotations

from fastapi import APIRouter

from im2.activities.formats.api import add_console_write, add_participant_write
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
from im2.web.deps import ApiActor, DbDep, VisitorDep
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


add_console_write(
    router,
    "/qas/{activity_id}/questions/{question_id}/moderation",
    service.do_moderate,
    name="moderate",
    body=ModerateIn,
    response_model=QuestionRead,
    summary="Approve, hide, pin or mark a question answered",
    fields=lambda body: {"action": body.action},
    more={"question_id": Id},
    refresh=refresh_boards_on_commit,
)


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


add_participant_write(
    router,
    "/public/campaigns/{slug}/qas/{activity_id}/questions",
    service.do_ask,
    name="ask",
    body=AskIn,
    response_model=AskReceipt,
    summary="Ask a question as the participant whose device cookie comes with the request",
    fields=lambda body: {"text": body.text, "nickname": body.nickname},
    refresh=refresh_boards_on_commit,
)


add_participant_write(
    router,
    "/public/campaigns/{slug}/qas/{activity_id}/questions/{question_id}/upvotes",
    service.do_upvote,
    name="upvote",
    body=UpvoteIn,
    response_model=UpvoteReceipt,
    summary="Upvote a question (once per participant)",
    more={"question_id": Id},
    refresh=refresh_boards_on_commit,
)
