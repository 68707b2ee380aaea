"""Console page of the embed settings: the sites allowed to embed the workspace's activities,
and the snippet to copy for an activity (docs/embed.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from im2.embed import service
from im2.errors import IM2Error
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.forms import service_error
from im2.web.links import public_base_url
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Permission

router = APIRouter(prefix="/console", include_in_schema=False)


def _page(
    request: Request,
    actor: ConsoleActor,
    db: DbDep,
    *,
    errors: dict[str, str] | None = None,
    typed: str = "",
    status_code: int = 200,
) -> Response:
    with db.session() as session:
        origins = service.list_origins(session, actor=actor)
        choices = service.embeddable_activities(session, actor=actor)
    wanted = request.query_params.get("activity", "")
    chosen = next((c for c in choices if str(c[1].id) == wanted), choices[0] if choices else None)
    return render(
        request,
        "embed/settings.html",
        {
            "origins": origins,
            "choices": choices,
            "chosen": chosen,
            "base_url": public_base_url(request),
            "can_manage": actor.can(Permission.WRITE_CAMPAIGNS),
            "errors": errors or {},
            "typed": typed,
            "nav": "embed",
        },
        status_code=status_code,
    )


@router.get("/w/{workspace}/embed")
def settings(request: Request, actor: ConsoleActor, db: DbDep) -> Response:
    return _page(request, actor, db)


@router.post("/w/{workspace}/embed/origins")
def add_origin(
    request: Request, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    typed = str(form.get("origin", ""))
    try:
        with db.transaction() as session:
            service.do_add_origin(session, actor=actor, origin=typed, now=now)
    except IM2Error as exc:
        return _page(
            request, actor, db, errors=service_error(exc), typed=typed, status_code=exc.status_code
        )
    return RedirectResponse(f"/console/w/{actor.workspace_slug}/embed", status_code=303)


@router.post("/w/{workspace}/embed/origins/{origin_id}/remove")
def remove_origin(
    origin_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    with db.transaction() as session:
        service.do_remove_origin(session, actor=actor, origin_id=origin_id, now=now)
    return RedirectResponse(f"/console/w/{actor.workspace_slug}/embed", status_code=303)
