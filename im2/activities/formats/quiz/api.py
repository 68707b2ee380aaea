"""JSON API of quizzes and predictions: the brand's side and the participant's answers."""

from __future__ import annotations

from fastapi import APIRouter

from im2.activities.formats.api import ParticipantApiDep
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


@router.get(
    "/quizzes/{activity_id}/results",
    response_model=QuizResults,
    summary="Answers per option, correct answers and outcomes (held answers counted apart)",
)
def results(activity_id: Id, actor: ApiActor, db: DbDep) -> QuizResults:
    with db.session() as session:
        return reports.quiz_results(session, actor=actor, activity_id=activity_id)


@router.get(
    "/quizzes/{activity_id}/leaderboard",
    response_model=Leaderboard,
    summary="Scores and ranks (same score, same rank; earlier finish listed first)",
)
def leaderboard(activity_id: Id, actor: ApiActor, db: DbDep) -> Leaderboard:
    with db.session() as session:
        return reports.quiz_leaderboard(session, actor=actor, activity_id=activity_id)


@router.post(
    "/quizzes/{activity_id}/questions/{question_id}/outcome",
    response_model=SettleReceipt,
    summary="Enter a prediction's outcome and settle it (the same outcome twice changes nothing)",
)
def settle(
    activity_id: Id,
    question_id: Id,
    body: OutcomeIn,
    actor: ApiActor,
    db: DbDep,
    now: NowDep,
) -> SettleReceipt:
    with db.transaction() as session:
        return outcomes.do_settle(
            session,
            actor=actor,
            activity_id=activity_id,
            question_id=question_id,
            option_id=body.option_id,
            now=now,
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


@router.post(
    "/public/campaigns/{slug}/quizzes/{activity_id}/answers",
    response_model=AnswerReceipt,
    status_code=201,
    tags=["participants"],
    summary="Answer one question as the participant whose device cookie comes with the request",
)
def answer(
    slug: str,
    activity_id: Id,
    body: AnswerIn,
    act: ParticipantApiDep,
) -> AnswerReceipt:
    return act.write(
        lambda session: service.do_answer(
            session,
            slug=slug,
            activity_id=activity_id,
            question_id=body.question_id,
            option_id=body.option_id,
            nickname=body.nickname,
            **act.rules(body.consent),
        )
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
