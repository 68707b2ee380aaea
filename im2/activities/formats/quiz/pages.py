"""Console pages of quizzes: add one, watch answers, settle predictions, leaderboard, export."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from im2.activities import service as activities
from im2.activities.editing import add_text_editor
from im2.activities.formats.quiz import outcomes, reports, service
from im2.activities.formats.quiz.schemas import MODE_LABELS, QuizCreate, QuizMode
from im2.activities.formats.quiz.scoring import parse_questions
from im2.activities.schemas import KIND_LABELS, QUESTIONS_HINT, ActivityKind
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignRead
from im2.errors import IM2Error, InvalidInput
from im2.i18n import _
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.downloads import csv_download
from im2.web.forms import service_error, validation_errors
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Permission
from im2.workspaces.service import require

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)

EXAMPLE = "咖啡豆其实是咖啡树的什么？\n* 果实里的种子\n豆科植物的豆子\n树根"
EXPORT_COLUMNS = [
    "answer_id",
    "participant_id",
    "nickname",
    "question_no",
    "question",
    "option",
    "correct",
    "points",
    "seconds",
    "answered_at",
    "held_for_review",
    "risk_reasons",
]


def _form(
    request: Request,
    *,
    campaign: CampaignRead,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "activities/quiz/quiz_form.html",
        {
            "campaign": campaign,
            "values": values,
            "errors": errors,
            "modes": list(QuizMode),
            "mode_labels": MODE_LABELS,
            "example": EXAMPLE,
            "nav": "campaigns",
        },
        status_code=status_code,
    )


@router.get("/campaigns/{campaign_id}/quiz/new")
def new_quiz(request: Request, campaign_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    require(actor, Permission.WRITE_CAMPAIGNS)
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    values = {"mode": QuizMode.QUIZ.value, "points": "10", "bonus_seconds": "20"}
    return _form(request, campaign=campaign, values=values, errors={})


@router.post("/campaigns/{campaign_id}/quiz")
def create_quiz(
    request: Request,
    campaign_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    require(actor, Permission.WRITE_CAMPAIGNS)
    raw = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    mode = QuizMode.PREDICTION if raw.get("mode") == "prediction" else QuizMode.QUIZ
    try:
        try:
            points = int(raw.get("points") or 10)
        except ValueError:
            raise InvalidInput(_("Enter a number."), field="points") from None
        if not 1 <= points <= 1000:
            raise InvalidInput(_("Must be at most {n}.").format(n=1000), field="points")
        questions = parse_questions(raw.get("questions", ""), mode=mode, points=points)
        data = QuizCreate.model_validate(
            {
                "title": raw.get("title", ""),
                "description": raw.get("description", ""),
                "mode": mode,
                "questions": [q.model_dump() for q in questions],
                "time_bonus": raw.get("time_bonus") == "on",
                "bonus_seconds": raw.get("bonus_seconds") or 20,
                "closes_at": raw.get("closes_at") or None,
            }
        )
        with db.transaction() as session:
            created = service.do_create_quiz(
                session, actor=actor, campaign_id=campaign_id, data=data, now=now
            )
    except ValidationError as exc:
        errors = {k.split(".")[0]: v for k, v in validation_errors(exc).items()}
        return _form(request, campaign=campaign, values=raw, errors=errors, status_code=422)
    except IM2Error as exc:
        return _form(
            request,
            campaign=campaign,
            values=raw,
            errors=service_error(exc),
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/console/w/{actor.workspace_slug}/quiz/{created.id}", status_code=303)


@router.get("/quiz/{activity_id}")
def detail(
    request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    with db.session() as session:
        results = reports.quiz_results(session, actor=actor, activity_id=activity_id)
        board = reports.quiz_leaderboard(session, actor=actor, activity_id=activity_id, limit=50)
        held = reports.list_held(session, actor=actor, activity_id=activity_id)
        activity = activities.get_activity(session, actor=actor, activity_id=activity_id)
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=activity.campaign_id)
    base_url = request.app.state.settings.base_url
    return render(
        request,
        "activities/quiz/detail.html",
        {
            "activity": activity,
            "campaign": campaign,
            "results": results,
            "board": board,
            "held": held,
            "kind_labels": KIND_LABELS,
            "mode_labels": MODE_LABELS,
            "prediction": results.mode is QuizMode.PREDICTION,
            "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
            "public_url": f"{base_url}/c/{campaign.slug}/quiz/{activity.id}",
            "settled": request.query_params.get("settled"),
            "now": now,
            "nav": "campaigns",
        },
    )


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
    return RedirectResponse(
        f"/console/w/{actor.workspace_slug}/quiz/{activity_id}", status_code=303
    )


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
    return RedirectResponse(
        f"/console/w/{actor.workspace_slug}/quiz/{activity_id}?settled={receipt.question_id}",
        status_code=303,
    )


@router.post("/quiz/{activity_id}/review/{answer_id}")
def review(
    activity_id: Id,
    answer_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    with db.transaction() as session:
        outcomes.do_review_answer(
            session,
            actor=actor,
            activity_id=activity_id,
            answer_id=answer_id,
            approve=form.get("decision") == "approve",
            now=now,
        )
    return RedirectResponse(
        f"/console/w/{actor.workspace_slug}/quiz/{activity_id}", status_code=303
    )


@router.get("/quiz/{activity_id}/export.csv")
def export_csv(activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    with db.session() as session:
        rows = reports.export_quiz(session, actor=actor, activity_id=activity_id)
    return csv_download(rows, columns=EXPORT_COLUMNS, filename=f"quiz-{activity_id}-answers.csv")


@router.get("/quiz/{activity_id}/leaderboard.csv")
def leaderboard_csv(activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
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
    return csv_download(rows, columns=columns, filename=f"quiz-{activity_id}-leaderboard.csv")


add_text_editor(router, ActivityKind.QUIZ, hint=QUESTIONS_HINT)
