"""Console pages of quizzes that are their own: close a question, settle a prediction, review
held answers, download the leaderboard (adding one, its page, the text editor and the export
are the shared console routes, made from `format.FORMAT`), and the builder's import of
questions written in the text format."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from im2.activities.formats.pages import add_review, add_text_import, back_to_activity
from im2.activities.formats.quiz import builder, outcomes, reports
from im2.activities.formats.quiz.schemas import QuizMode
from im2.activities.formats.quiz.scoring import parse_questions
from im2.activities.schemas import ActivityKind
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.downloads import people_csv_download
from im2.web.params import Id

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)


@router.post("/quiz/{activity_id}/questions/{question_id}/close")
def close_question(
    activity_id: Id,
    question_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    with db.transaction() as session:
        outcomes.do_close_question(
            session, actor=actor, activity_id=activity_id, question_id=question_id, now=now
        )
    return back_to_activity(actor, ActivityKind.QUIZ, activity_id)


@router.post("/quiz/{activity_id}/questions/{question_id}/outcome")
def settle(
    activity_id: Id,
    question_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    try:
        option_id = int(str(form.get("option_id") or ""))
    except ValueError:
        option_id = -1
    with db.transaction() as session:
        receipt = outcomes.do_settle(
            session,
            actor=actor,
            activity_id=activity_id,
            question_id=question_id,
            option_id=option_id,
            now=now,
        )
    return back_to_activity(
        actor, ActivityKind.QUIZ, activity_id, f"?settled={receipt.question_id}"
    )


add_review(router, outcomes.do_review_answer)


@router.get("/quiz/{activity_id}/leaderboard.csv")
def leaderboard_csv(activity_id: Id, actor: ConsoleActor, db: DbDep, now: NowDep) -> Response:
    """The full ranking, for handing out prizes."""
    with db.session() as session:
        board = reports.quiz_leaderboard(
            session, actor=actor, activity_id=activity_id, limit=100_000
        )
    columns = ("rank", "participant_id", "name", "score", "correct", "answered", "finished_at")
    rows = (
        {
            "rank": r.rank,
            "participant_id": r.participant_id,
            "name": r.name,
            "score": r.score,
            "correct": r.correct,
            "answered": r.answered,
            "finished_at": r.finished_at.isoformat(),
        }
        for r in board.rows
    )
    return people_csv_download(
        rows,
        columns=columns,
        filename=f"quiz-{activity_id}-leaderboard.csv",
        actor=actor,
        db=db,
        now=now,
        target_type="quiz",
        target_id=activity_id,
        names=("name",),
    )


def _check(values: dict[str, str]) -> object:
    mode = QuizMode.PREDICTION if values["mode"] == "prediction" else QuizMode.QUIZ
    return parse_questions(values["questions"], mode=mode, points=10)


add_text_import(
    router,
    ActivityKind.QUIZ,
    fields={"questions": "", "mode": QuizMode.QUIZ.value, "points": "10"},
    check=_check,
    state=builder.state,
)
