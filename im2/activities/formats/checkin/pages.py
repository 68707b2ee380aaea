"""Console pages of daily check-ins that are their own: review held check-ins, edit the texts
and milestones (adding one, its page with today's numbers and the streak leaderboard, and the
export are the shared console routes, made from `format.FORMAT`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from im2.activities import service as activities
from im2.activities.formats.checkin import service
from im2.activities.formats.checkin.format import parse_milestones
from im2.activities.formats.checkin.schemas import CheckinUpdate
from im2.activities.formats.pages import add_review
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.errors import IM2Error, NotFound
from im2.i18n import _
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.forms import service_error, validation_errors
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Permission
from im2.workspaces.service import require

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)


add_review(router, service.do_review_checkin)


def _edit_form(
    request: Request,
    *,
    activity: ActivityRead,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "activities/checkin/edit_form.html",
        {
            "activity": activity,
            "values": values,
            "errors": errors,
            "back": f"/console/w/{request.path_params['workspace']}/checkin/{activity.id}",
            "nav": "campaigns",
        },
        status_code=status_code,
    )


def _load_for_edit(db: DbDep, actor: ConsoleActor, activity_id: int) -> ActivityRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    with db.session() as session:
        activity = activities.get_activity(session, actor=actor, activity_id=activity_id)
    if activity.kind is not ActivityKind.CHECKIN:
        raise NotFound(_("Activity {id} not found.").format(id=activity_id))
    return activity


@router.get("/checkin/{activity_id}/edit")
def edit_checkin(request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    activity = _load_for_edit(db, actor, activity_id)
    values = {
        "title": activity.title,
        "description": activity.description,
        "milestones": ", ".join(str(m) for m in activity.settings.get("milestones", [])),
    }
    return _edit_form(request, activity=activity, values=values, errors={})


@router.post("/checkin/{activity_id}/edit")
def update_checkin(
    request: Request,
    activity_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    activity = _load_for_edit(db, actor, activity_id)
    raw = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    payload = {
        "title": raw.get("title", ""),
        "description": raw.get("description", ""),
        "milestones": parse_milestones(raw.get("milestones", "")),
    }
    try:
        data = CheckinUpdate.model_validate(payload)
        with db.transaction() as session:
            service.do_update_checkin(
                session, actor=actor, activity_id=activity_id, data=data, now=now
            )
    except ValidationError as exc:
        errors = {k.split(".")[0]: v for k, v in validation_errors(exc).items()}
        return _edit_form(request, activity=activity, values=raw, errors=errors, status_code=422)
    except IM2Error as exc:
        return _edit_form(
            request,
            activity=activity,
            values=raw,
            errors=service_error(exc),
            status_code=exc.status_code,
        )
    return RedirectResponse(
        f"/console/w/{actor.workspace_slug}/checkin/{activity_id}", status_code=303
    )
