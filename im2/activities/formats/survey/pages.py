"""Console pages of surveys that are their own: review held responses (adding one, the summary
charts, the text editor and the export are the shared console routes, from `format.FORMAT`)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import RedirectResponse, Response

from im2.activities.formats.survey import service
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.params import Id

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
