"""The console page that edits an activity's title and description, for formats whose other
settings cannot change once people have taken part. A format adds it to its router with
`add_text_editor(router, ActivityKind.X)`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.responses import RedirectResponse, Response

from im2.activities import service as activities
from im2.activities.schemas import ActivityKind, ActivityRead, Text, Title
from im2.errors import IM2Error, NotFound
from im2.i18n import _
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.forms import service_error, validation_errors
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Permission
from im2.workspaces.service import require


class ActivityTexts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Text = ""


def add_text_editor(router: APIRouter, kind: ActivityKind, *, hint: str | None = None) -> None:
    """GET and POST `/{kind}/{id}/edit` on a router prefixed with /console/w/{workspace}."""

    def page(
        request: Request,
        activity: ActivityRead,
        values: dict[str, Any],
        errors: dict[str, str],
        status_code: int = 200,
    ) -> Response:
        back = f"/console/w/{request.path_params['workspace']}/{kind.value}/{activity.id}"
        context = {
            "activity": activity,
            "values": values,
            "errors": errors,
            "back": back,
            "hint": hint,
            "nav": "campaigns",
        }
        return render(request, "activities/edit_texts.html", context, status_code=status_code)

    def load(db: DbDep, actor: ConsoleActor, activity_id: int) -> ActivityRead:
        require(actor, Permission.WRITE_CAMPAIGNS)
        with db.session() as session:
            activity = activities.get_activity(session, actor=actor, activity_id=activity_id)
        if activity.kind is not kind:
            raise NotFound(_("Activity {id} not found.").format(id=activity_id))
        return activity

    @router.get(f"/{kind.value}/{{activity_id}}/edit", name=f"edit_{kind.value}")
    def edit(request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
        activity = load(db, actor, activity_id)
        values = {"title": activity.title, "description": activity.description}
        return page(request, activity, values, {})

    @router.post(f"/{kind.value}/{{activity_id}}/edit", name=f"update_{kind.value}")
    def update(
        request: Request,
        activity_id: Id,
        form: CsrfForm,
        actor: ConsoleActor,
        db: DbDep,
        now: NowDep,
    ) -> Response:
        activity = load(db, actor, activity_id)
        raw = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        try:
            texts = ActivityTexts.model_validate(
                {"title": raw.get("title", ""), "description": raw.get("description", "")}
            )
            with db.transaction() as session:
                activities.do_update_activity(
                    session,
                    actor=actor,
                    activity_id=activity_id,
                    kind=kind,
                    title=texts.title,
                    description=texts.description,
                    now=now,
                )
        except ValidationError as exc:
            errors = {k.split(".")[0]: v for k, v in validation_errors(exc).items()}
            return page(request, activity, raw, errors, status_code=422)
        except IM2Error as exc:
            return page(request, activity, raw, service_error(exc), status_code=exc.status_code)
        return RedirectResponse(
            f"/console/w/{actor.workspace_slug}/{kind.value}/{activity_id}", status_code=303
        )
