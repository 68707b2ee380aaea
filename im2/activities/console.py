"""The console routes every format shares, made from its declarations (`ActivityFormat.create`,
`.detail`, `.export`, `.text_editor_hint`): add one, see one, edit its texts, download it.

    GET  /console/w/<ws>/campaigns/<id>/<kind>/new    the create form (`create.template`)
    POST /console/w/<ws>/campaigns/<id>/<kind>        create; errors back to the form, by field
    GET  /console/w/<ws>/<kind>/<activity id>          the detail page (`detail.template`)
    GET  /console/w/<ws>/<kind>/<activity id>/edit     title and description (shared editor)
    GET  /console/w/<ws>/<kind>/<activity id>/export.csv
    GET  /console/w/<ws>/<kind>/<activity id>/delete   the confirm step (or why it cannot go)
    POST /console/w/<ws>/<kind>/<activity id>/delete   delete; back to the campaign page
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from im2.activities import deletion
from im2.activities.editing import (
    activity_and_campaign,
    activity_context,
    activity_url,
    add_text_editor,
)
from im2.activities.protocol import ActivityFormat, CreateForm, DetailPage, Export
from im2.activities.schemas import KIND_LABELS, ActivityRead
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignRead
from im2.errors import Conflict, NotFound
from im2.i18n import _
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.downloads import people_csv_download
from im2.web.forms import FormState, form_errors, raw_values, save_or_show_again, see_other
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Permission
from im2.workspaces.service import require

Context = dict[str, Any]


def console_router(fmt: ActivityFormat[Any]) -> APIRouter:
    router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)
    if fmt.create is not None:
        _add_create(router, fmt, fmt.create)
    if fmt.detail is not None:
        _add_detail(router, fmt, fmt.detail)
    if fmt.text_editor_hint is not None:
        add_text_editor(router, fmt.kind, hint=fmt.text_editor_hint or None)
    if fmt.export is not None:
        _add_export(router, fmt, fmt.export)
    _add_delete(router, fmt)
    return router


def _add_create(router: APIRouter, fmt: ActivityFormat[Any], form: CreateForm) -> None:
    kind = fmt.kind.value

    def load(db: DbDep, actor: ConsoleActor, campaign_id: int) -> tuple[CampaignRead, Context]:
        require(actor, Permission.WRITE_CAMPAIGNS)
        with db.session() as session:
            campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
            extra = (
                form.campaign_context(session, actor=actor, campaign=campaign)
                if form.campaign_context is not None
                else {}
            )
        return campaign, {"campaign": campaign, "nav": "campaigns", **form.context, **extra}

    def page(request: Request, context: Context, *, state: FormState = FormState()) -> Response:
        defaults = form.defaults() if callable(form.defaults) else form.defaults
        return render(
            request,
            form.template,
            {**context, **state.shown(defaults)},
            status_code=state.status_code,
        )

    invalid = partial(form_errors, fields=form.error_fields, messages=form.error_messages)

    @router.get(f"/campaigns/{{campaign_id}}/{kind}/new", name=f"new_{kind}")
    def new(request: Request, campaign_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
        _campaign, context = load(db, actor, campaign_id)
        return page(request, context)

    @router.post(f"/campaigns/{{campaign_id}}/{kind}", name=f"create_{kind}")
    def create(
        request: Request,
        campaign_id: Id,
        posted: CsrfForm,
        actor: ConsoleActor,
        db: DbDep,
        now: NowDep,
    ) -> Response:
        raw = raw_values(posted)
        campaign, context = load(db, actor, campaign_id)

        def save() -> ActivityRead:
            data = form.model.model_validate(form.parse(raw, campaign))
            with db.transaction() as session:
                return form.create(
                    session, actor=actor, campaign_id=campaign_id, data=data, now=now
                )

        return save_or_show_again(
            save,
            again=partial(page, request, context),
            done=lambda created: see_other(activity_url(actor, fmt.kind, created.id)),
            values=raw,
            invalid=invalid,
            propagate=(),
        )


def _add_detail(router: APIRouter, fmt: ActivityFormat[Any], detail: DetailPage) -> None:
    kind = fmt.kind.value

    @router.get(f"/{kind}/{{activity_id}}", name=f"{kind}_detail")
    def page(
        request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep, now: NowDep
    ) -> Response:
        with db.session() as session:
            activity, campaign = activity_and_campaign(session, actor, activity_id, fmt.kind)
            extra = detail.context(
                session, actor=actor, activity=activity, campaign=campaign, now=now
            )
        context = {**activity_context(request, actor, activity, campaign), "now": now, **extra}
        return render(request, detail.template, context)


def _add_export(router: APIRouter, fmt: ActivityFormat[Any], export: Export) -> None:
    @router.get(f"/{fmt.kind.value}/{{activity_id}}/export.csv", name=f"{fmt.kind.value}_export")
    def download(activity_id: Id, actor: ConsoleActor, db: DbDep, now: NowDep) -> Response:
        with db.session() as session:
            if export.table is not None:
                columns, found = export.table(
                    session, actor=actor, activity_id=activity_id, now=now
                )
            elif export.rows_at is not None:
                columns = export.columns
                found = export.rows_at(session, actor=actor, activity_id=activity_id, now=now)
            else:
                assert export.rows is not None  # the registry checks one of them is there
                columns = export.columns
                found = export.rows(session, actor=actor, activity_id=activity_id)
            rows = list(found)
        return people_csv_download(
            rows,
            columns=columns,
            filename=export.filename.format(id=activity_id),
            actor=actor,
            db=db,
            now=now,
            target_type=fmt.kind.value,
            target_id=activity_id,
        )


def _add_delete(router: APIRouter, fmt: ActivityFormat[Any]) -> None:
    kind = fmt.kind.value

    def confirm(
        request: Request, check: deletion.DeletionCheck, error: str | None, status_code: int
    ) -> Response:
        context = {
            "check": check,
            "kind_labels": KIND_LABELS,
            "error": error,
            "nav": "campaigns",
        }
        return render(request, "activities/delete.html", context, status_code=status_code)

    def load(db: DbDep, actor: ConsoleActor, activity_id: int) -> deletion.DeletionCheck:
        with db.session() as session:
            check = deletion.check_delete_activity(session, actor=actor, activity_id=activity_id)
        if check.kind is not fmt.kind:
            raise NotFound(_("Activity {id} not found.").format(id=activity_id))
        return check

    @router.get(f"/{kind}/{{activity_id}}/delete", name=f"confirm_delete_{kind}")
    def ask(request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
        return confirm(request, load(db, actor, activity_id), None, 200)

    @router.post(f"/{kind}/{{activity_id}}/delete", name=f"delete_{kind}")
    def delete(
        request: Request,
        activity_id: Id,
        _posted: CsrfForm,
        actor: ConsoleActor,
        db: DbDep,
        now: NowDep,
    ) -> Response:
        campaigns_page = f"/console/w/{actor.workspace_slug}/campaigns"
        try:
            check = load(db, actor, activity_id)
        except NotFound:
            with db.session() as session:  # sent twice (a double click): it is gone already
                if deletion.was_deleted(session, actor=actor, activity_id=activity_id):
                    return RedirectResponse(campaigns_page, status_code=303)
            raise
        try:
            with db.transaction() as session:
                deletion.do_delete_activity(session, actor=actor, activity_id=activity_id, now=now)
        except Conflict as exc:
            return confirm(request, check, exc.message, exc.status_code)
        return RedirectResponse(f"{campaigns_page}/{check.campaign.id}", status_code=303)
