"""The console page that edits an activity, `/<kind>/<id>/edit`: its title and description for
formats whose other settings cannot change once people have taken part (the shared console
routes add it where a format declares `text_editor_hint`), or those and the settings a format
lets change, on the format's own form (a check-in's milestones: `add_editor` with its template,
model, values and service call).

Also what every console page of one activity shares, whether the shared routes or a format's
own make it: its address (`activity_url`), the activity with its campaign, and the context its
page is shown with (`activity_context`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session
from starlette.responses import Response

from im2.activities import service as activities
from im2.activities.protocol import UpdateActivity
from im2.activities.schemas import KIND_LABELS, ActivityKind, ActivityRead, Text, Title
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignRead
from im2.db import Database
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.forms import FormState, field_errors, raw_values, save_or_show_again
from im2.web.links import public_base_url
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import require

Context = dict[str, Any]
TEXTS_TEMPLATE = "activities/edit_texts.html"


class ActivityTexts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Text = ""


def texts_of(activity: ActivityRead) -> dict[str, Any]:
    """The stored title and description, as the form shows them first."""
    return {"title": activity.title, "description": activity.description}


def activity_url(actor: Actor, kind: ActivityKind, activity_id: int) -> str:
    """The console page of an activity, where its forms go back to."""
    return f"/console/w/{actor.workspace_slug}/{kind.value}/{activity_id}"


def activity_and_campaign(
    session: Session, actor: Actor, activity_id: int, kind: ActivityKind
) -> tuple[ActivityRead, CampaignRead]:
    """The activity of `kind` the actor reads in the console, and its campaign."""
    activity = activities.get_activity(session, actor=actor, activity_id=activity_id, kind=kind)
    return activity, campaigns.get_campaign(session, actor=actor, campaign_id=activity.campaign_id)


def activity_context(
    request: Request, actor: Actor, activity: ActivityRead, campaign: CampaignRead
) -> Context:
    """What every console page of one activity is shown with: the activity, its campaign,
    whether the user may change it, and the address participants open."""
    base_url = public_base_url(request)
    return {
        "activity": activity,
        "campaign": campaign,
        "kind_labels": KIND_LABELS,
        "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
        "public_url": f"{base_url}/c/{campaign.slug}/{activity.kind.value}/{activity.id}",
        "nav": "campaigns",
    }


def editable_activity(
    db: Database, actor: Actor, activity_id: int, kind: ActivityKind
) -> ActivityRead:
    """The activity of `kind` the actor may edit (403 without the right, 404 if it is not in
    the workspace or of another kind)."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    with db.session() as session:
        return activities.get_activity(session, actor=actor, activity_id=activity_id, kind=kind)


def _texts_in(raw: Mapping[str, str]) -> dict[str, Any]:
    return {"title": raw.get("title", ""), "description": raw.get("description", "")}


def add_text_editor(router: APIRouter, kind: ActivityKind, *, hint: str | None = None) -> None:
    """GET and POST `/{kind}/{id}/edit` (title and description) on a router prefixed with
    /console/w/{workspace}."""
    add_editor(router, kind, hint=hint)


def add_editor(
    router: APIRouter,
    kind: ActivityKind,
    *,
    template: str = TEXTS_TEMPLATE,
    model: type[BaseModel] = ActivityTexts,
    values: Callable[[ActivityRead], dict[str, Any]] = texts_of,
    parse: Callable[[Mapping[str, str]], dict[str, Any]] = _texts_in,
    update: UpdateActivity | None = None,
    hint: str | None = None,
) -> None:
    """GET and POST `/{kind}/{id}/edit` on a router prefixed with /console/w/{workspace}:
    `template` shows `values(activity)` first; a submit is `parse`d into `model`'s input and
    written with `update` (the texts alone unless given); errors come back on the form, by
    field, with what was typed."""
    write = update or activities.update_texts(kind)

    def page(
        request: Request, activity: ActivityRead, *, state: FormState = FormState()
    ) -> Response:
        back = f"/console/w/{request.path_params['workspace']}/{kind.value}/{activity.id}"
        context = {
            "activity": activity,
            **state.shown(values(activity)),
            "back": back,
            "hint": hint,
            "nav": "campaigns",
        }
        return render(request, template, context, status_code=state.status_code)

    @router.get(f"/{kind.value}/{{activity_id}}/edit", name=f"edit_{kind.value}")
    def edit(request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
        return page(request, editable_activity(db, actor, activity_id, kind))

    @router.post(f"/{kind.value}/{{activity_id}}/edit", name=f"update_{kind.value}")
    def save(
        request: Request,
        activity_id: Id,
        form: CsrfForm,
        actor: ConsoleActor,
        db: DbDep,
        now: NowDep,
    ) -> Response:
        activity = editable_activity(db, actor, activity_id, kind)
        raw = raw_values(form)

        def written() -> None:
            data = model.model_validate(parse(raw))
            with db.transaction() as session:
                write(session, actor=actor, activity_id=activity_id, data=data, now=now)

        return save_or_show_again(
            written,
            again=partial(page, request, activity),
            done=activity_url(actor, kind, activity_id),
            values=raw,
            invalid=field_errors,
            propagate=(),
        )
