"""Console pages of surveys: add one, read the summary charts, export the responses."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from im2.activities import service as activities
from im2.activities.editing import add_text_editor
from im2.activities.formats.survey import reports, service
from im2.activities.formats.survey.logic import parse_questions
from im2.activities.formats.survey.schemas import (
    KIND_NAMES,
    QuestionKind,
    SurveyCreate,
)
from im2.activities.schemas import KIND_LABELS, QUESTIONS_HINT, ActivityKind
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignRead
from im2.errors import IM2Error
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.downloads import csv_download
from im2.web.forms import service_error, validation_errors
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Permission
from im2.workspaces.service import require

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)

EXAMPLE = (
    "单选*: 你喝过我们的樱花拿铁吗？\n喝过\n没喝过 -> 3\n\n"
    "评分*: 你给樱花拿铁打几分？\n\n"
    "NPS: 你有多大可能把我们推荐给朋友？\n\n"
    "填空: 还有什么想对我们说的？"
)


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
        "activities/survey/survey_form.html",
        {
            "campaign": campaign,
            "values": values,
            "errors": errors,
            "example": EXAMPLE,
            "nav": "campaigns",
        },
        status_code=status_code,
    )


@router.get("/campaigns/{campaign_id}/survey/new")
def new_survey(request: Request, campaign_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    require(actor, Permission.WRITE_CAMPAIGNS)
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    return _form(request, campaign=campaign, values={}, errors={})


@router.post("/campaigns/{campaign_id}/survey")
def create_survey(
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
    try:
        questions = parse_questions(raw.get("questions", ""))
        data = SurveyCreate.model_validate(
            {
                "title": raw.get("title", ""),
                "description": raw.get("description", ""),
                "questions": [q.model_dump() for q in questions],
            }
        )
        with db.transaction() as session:
            created = service.do_create_survey(
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
    return RedirectResponse(
        f"/console/w/{actor.workspace_slug}/survey/{created.id}", status_code=303
    )


@router.get("/survey/{activity_id}")
def detail(request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    with db.session() as session:
        summary = reports.survey_summary(session, actor=actor, activity_id=activity_id)
        held = reports.list_held(session, actor=actor, activity_id=activity_id)
        activity = activities.get_activity(session, actor=actor, activity_id=activity_id)
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=activity.campaign_id)
    base_url = request.app.state.settings.base_url
    started = summary.responses + summary.in_progress
    return render(
        request,
        "activities/survey/detail.html",
        {
            "activity": activity,
            "campaign": campaign,
            "summary": summary,
            "held": held,
            "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
            "completion": summary.responses / started if started else 0.0,
            "kind_labels": KIND_LABELS,
            "kind_names": KIND_NAMES,
            "kinds": QuestionKind,
            "public_url": f"{base_url}/c/{campaign.slug}/survey/{activity.id}",
            "nav": "campaigns",
        },
    )


@router.post("/survey/{activity_id}/review/{response_id}")
def review(
    activity_id: Id,
    response_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    with db.transaction() as session:
        service.do_review_response(
            session,
            actor=actor,
            activity_id=activity_id,
            response_id=response_id,
            approve=form.get("decision") == "approve",
            now=now,
        )
    return RedirectResponse(
        f"/console/w/{actor.workspace_slug}/survey/{activity_id}", status_code=303
    )


@router.get("/survey/{activity_id}/export.csv")
def export_csv(activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    with db.session() as session:
        columns, rows = reports.export_survey(session, actor=actor, activity_id=activity_id)
    return csv_download(rows, columns=columns, filename=f"survey-{activity_id}-responses.csv")


add_text_editor(router, ActivityKind.SURVEY, hint=QUESTIONS_HINT)
