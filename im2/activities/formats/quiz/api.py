"""JSON API of quizzes and predictions: the brand's side and the participant's answers."""

from __future__ import annotations

from fastapi import APIRouter

from im2.activities.formats.api import add_console_read, add_console_write, add_participant_write
from im2.activities.formats.quiz import outcomes, reports, service
from im2.activities.formats.quiz.public import shown_view
from im2.activities.formats.quiz.schemas import (
    AnswerIn,
    AnswerReceipt,
    Leaderboard,
    OutcomeIn,
    QuizResults,
    QuizState,
    SettleReceipt,
)
from im2.web.deps import ApiActor, DbDep, NowDep, VisitorDep
from im2.web.params import Id

router = APIRouter(prefix="/api/v1", tags=["quizzes"])


add_console_read(
    router,
    "/quizzes/{activity_id}/results",
    reports.quiz_results,
    name="results",
    response_model=QuizResults,
    summary="Answers per option, correct answers and outcomes (held answers counted apart)",
)


add_console_read(
    router,
    "/quizzes/{activity_id}/leaderboard",
    reports.quiz_leaderboard,
    name="leaderboard",
    response_model=Leaderboard,
    summary="Scores and ranks (same score, same rank; earlier finish listed first)",
)


add_console_write(
    router,
    "/quizzes/{activity_id}/questions/{question_id}/outcome",
    outcomes.do_settle,
    name="settle",
    body=OutcomeIn,
    response_model=SettleReceipt,
    summary="Enter a prediction's outcome and settle it (the same outcome twice changes nothing)",
    fields=lambda body: {"option_id": body.option_id},
    more={"question_id": Id},
)


@router.post(
    "/quizzes/{activity_id}/questions/{question_id}/close",
    status_code=204,
    summary="Stop taking answers to a question now (e.g. a prediction at kick-off)",
)
def close_question(
    activity_id: Id, question_id: Id, actor: ApiActor, db: DbDep, now: NowDep
) -> None:
    with db.transaction() as session:
        outcomes.do_close_question(
            session, actor=actor, activity_id=activity_id, question_id=question_id, now=now
        )


@router.get(
    "/public/campaigns/{slug}/quizzes/{activity_id}",
    response_model=QuizState,
    tags=["participants"],
    summary="The questions, this device's answers and score; starts the clock on the next one",
)
def state(slug: str, activity_id: Id, visitor: VisitorDep, db: DbDep, now: NowDep) -> QuizState:
    return shown_view(
        db, slug=slug, activity_id=activity_id, device_id=visitor.device_id, now=now
    ).state


add_participant_write(
    router,
    "/public/campaigns/{slug}/quizzes/{activity_id}/answers",
    service.do_answer,
    name="answer",
    body=AnswerIn,
    response_model=AnswerReceipt,
    summary="Answer one question as the participant whose device cookie comes with the request",
    fields=lambda body: {
        "question_id": body.question_id,
        "option_id": body.option_id,
        "nickname": body.nickname,
    },
)


@router.get(
    "/public/campaigns/{slug}/quizzes/{activity_id}/leaderboard",
    response_model=Leaderboard,
    tags=["participants"],
    summary="The public leaderboard, with this device's own row",
)
def public_leaderboard(slug: str, activity_id: Id, visitor: VisitorDep, db: DbDep) -> Leaderboard:
    with db.session() as session:
        _campaign, board = reports.public_leaderboard(
            session, slug=slug, activity_id=activity_id, device_id=visitor.device_id
        )
    return board
