"""Console pages of surveys that are their own: review held responses, and the builder's
import of questions written in the text format (adding one, the summary charts, the text
editor and the export are the shared console routes, from `format.FORMAT`)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import JSONResponse, RedirectResponse, Response

from im2.activities.formats.survey import builder, service
from im2.activities.formats.survey.logic import parse_questions
from im2.errors import InvalidInput
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.params import Id
from im2.workspaces.schemas import Permission
from im2.workspaces.service import require

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)


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


@router.post("/survey/import-text")
def import_text(form: CsrfForm, actor: ConsoleActor) -> Response:
    """The builder's "import from text": the questions of the text format as the builder's
    state, or 422 with the parser's message (nothing is stored)."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    text = str(form.get("questions") or "")
    try:
        parse_questions(text)
    except InvalidInput as exc:
        return JSONResponse({"error": exc.message}, status_code=422)
    return JSONResponse(builder.state({"questions": text}))
