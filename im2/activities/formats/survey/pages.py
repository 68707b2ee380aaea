"""Console pages of surveys that are their own: review held responses, and the builder's
import of questions written in the text format (adding one, the summary charts, the text
editor and the export are the shared console routes, from `format.FORMAT`)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from im2.activities.formats.pages import add_review
from im2.activities.formats.survey import builder, service
from im2.activities.formats.survey.logic import parse_questions
from im2.errors import InvalidInput
from im2.web.deps import ConsoleActor, CsrfForm
from im2.workspaces.schemas import Permission
from im2.workspaces.service import require

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)


add_review(router, service.do_review_response)


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
