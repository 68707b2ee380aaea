"""Console pages of lucky draws that are their own: review held entries (adding one, its page,
the text editor and the export are the shared console routes, made from `format.FORMAT`)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import RedirectResponse, Response

from im2.activities.formats.draw import service
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.params import Id

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)


@router.post("/draw/{activity_id}/review/{entry_id}")
def review(
    activity_id: Id,
    entry_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    with db.transaction() as session:
        service.do_review_entry(
            session,
            actor=actor,
            activity_id=activity_id,
            entry_id=entry_id,
            approve=form.get("decision") == "approve",
            now=now,
        )
    return RedirectResponse(
        f"/console/w/{actor.workspace_slug}/draw/{activity_id}", status_code=303
    )
