"""Console pages for data-subject requests: the list with due dates (overdue ones marked), a
request with its log and the actions that answer it, and the workspace's answer period."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from starlette.datastructures import FormData
from starlette.responses import FileResponse, Response

from im2.errors import InvalidInput
from im2.i18n import _
from im2.people.consent.schemas import PURPOSE_NAMES
from im2.privacy import service
from im2.privacy.api import export_zip
from im2.privacy.jobs import build_soon
from im2.privacy.schemas import (
    ACTION_LABELS,
    CHANNEL_LABELS,
    KIND_LABELS,
    STATUS_LABELS,
    PrivacySettingsUpdate,
    RequestChannel,
    RequestCreate,
    RequestKind,
    RequestRead,
)
from im2.web.db_calls import read, write
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep, SettingsDep
from im2.web.forms import (
    FormState,
    act_or_show_again,
    save_or_show_again,
    see_other,
    service_error,
)
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Actor, Permission

router = APIRouter(prefix="/console/w/{workspace}/privacy", include_in_schema=False)

STATUS_BADGES = {
    "received": "status-scheduled",
    "verified": "status-scheduled",
    "in_progress": "status-paused",
    "done": "status-live",
    "refused": "status-archived",
}


def _common(actor: Actor) -> dict[str, Any]:
    return {
        "nav": "privacy",
        "base": f"/console/w/{actor.workspace_slug}/privacy",
        "can_act": actor.can(Permission.WRITE_PEOPLE),
        "can_export": actor.can(Permission.EXPORT_DATA),
        "kind_labels": KIND_LABELS,
        "status_labels": STATUS_LABELS,
        "channel_labels": CHANNEL_LABELS,
        "action_labels": ACTION_LABELS,
        "badges": STATUS_BADGES,
        "purposes": [(p.value, _(label)) for p, label in PURPOSE_NAMES.items()],
        "purpose_names": {p.value: _(label) for p, label in PURPOSE_NAMES.items()},
    }


def _list_page(
    request: Request,
    actor: Actor,
    db: DbDep,
    now: Any,
    *,
    state: FormState = FormState(),
) -> Response:
    open_only = request.query_params.get("open") == "1"
    with db.session() as session:
        page = service.list_requests(
            session,
            actor=actor,
            now=now,
            open_only=open_only,
            cursor=request.query_params.get("cursor"),
            limit=50,
        )
        settings = service.get_privacy_settings(session, workspace_id=actor.workspace_id)
    return render(
        request,
        "privacy/list.html",
        {
            **_common(actor),
            "page": page,
            "open_only": open_only,
            "settings": settings,
            **state.shown(),
            "overdue": sum(1 for r in page.items if r.overdue),
        },
        status_code=state.status_code,
    )


@router.get("")
def requests_page(request: Request, actor: ConsoleActor, db: DbDep, now: NowDep) -> Response:
    return _list_page(request, actor, db, now)


def _int_field(form: FormData, name: str) -> int:
    try:
        return int(str(form.get(name, "")).strip())
    except ValueError:
        raise InvalidInput(_("Enter a whole number."), field=name) from None


@router.post("")
def create_request(
    request: Request, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    values = {k: str(form.get(k, "")) for k in ("person_id", "kind", "nickname", "note")}

    def save() -> RequestRead:
        kind = str(form.get("kind", ""))
        body = RequestCreate(
            person_id=_int_field(form, "person_id"),
            kind=kind,
            verified=form.get("verified") == "on",
            purposes=[str(p) for p in form.getlist("purposes")],
            fields={"nickname": values["nickname"]} if kind == RequestKind.CORRECTION else {},
            note=values["note"],
        )
        return write(
            db,
            service.do_create_request,
            actor=actor,
            body=body,
            channel=RequestChannel.CONSOLE,
            now=now,
        )

    return save_or_show_again(
        save,
        again=partial(_list_page, request, actor, db, now),
        values=values,
        done=lambda created: see_other(f"/console/w/{actor.workspace_slug}/privacy/{created.id}"),
        refused=lambda exc: service_error(exc) if exc.field else {"person_id": exc.message},
        propagate=(403,),
    )


def _detail_page(
    request: Request,
    actor: Actor,
    db: DbDep,
    now: Any,
    request_id: int,
    *,
    state: FormState = FormState(),
) -> Response:
    found = read(db, service.get_request, actor=actor, request_id=request_id, now=now)
    return render(
        request,
        "privacy/detail.html",
        {
            **_common(actor),
            "item": found,
            "errors": state.errors,
            "done": request.query_params.get("done"),
        },
        status_code=state.status_code,
    )


@router.post("/settings")
def save_settings(
    request: Request, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    def save() -> None:
        update = PrivacySettingsUpdate(
            request_due_days=_int_field(form, "request_due_days"),
            export_days=_int_field(form, "export_days"),
        )
        write(db, service.do_update_privacy_settings, actor=actor, update=update, now=now)

    return save_or_show_again(
        save,
        again=partial(_list_page, request, actor, db, now),
        done=f"/console/w/{actor.workspace_slug}/privacy?saved=1",
        propagate=(403,),
    )


@router.get("/{request_id}")
def request_page(
    request: Request, request_id: Id, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    return _detail_page(request, actor, db, now, request_id)


@router.post("/{request_id}/{action}")
def act(
    request: Request,
    request_id: Id,
    action: str,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
    settings: SettingsDep,
    tasks: BackgroundTasks,
) -> Response:
    """One answer to the request: verify, export, correct, erase, restrict, unrestrict,
    withdraw, refuse. A refusal of the action shows on the request's page."""

    base = f"/console/w/{actor.workspace_slug}/privacy/{request_id}"

    def act() -> Response | None:
        with db.transaction() as session:
            if action == "verify":
                service.do_verify(session, actor=actor, request_id=request_id, now=now)
            elif action == "export":
                service.do_start_export(session, actor=actor, request_id=request_id, now=now)
                tasks.add_task(
                    build_soon,
                    db,
                    request_id=request_id,
                    now=now,
                    lake_path=settings.lake_path,
                    media_path=settings.media_path,
                )
            elif action == "correct":
                service.do_correct(
                    session,
                    actor=actor,
                    request_id=request_id,
                    fields={"nickname": str(form.get("nickname", ""))},
                    now=now,
                )
            elif action == "erase":
                if form.get("confirm") != "yes":
                    raise InvalidInput(_("Tick the box to confirm."), field="confirm")
                service.do_erase(
                    session,
                    actor=actor,
                    request_id=request_id,
                    now=now,
                    lake_path=settings.lake_path,
                    media_path=settings.media_path,
                )
            elif action in ("restrict", "unrestrict"):
                service.do_restrict(
                    session,
                    actor=actor,
                    request_id=request_id,
                    restrict=action == "restrict",
                    now=now,
                )
            elif action == "withdraw":
                service.do_withdraw(session, actor=actor, request_id=request_id, now=now)
            elif action == "refuse":
                service.do_refuse(
                    session,
                    actor=actor,
                    request_id=request_id,
                    reason=str(form.get("reason", "")),
                    now=now,
                )
            else:
                return render(
                    request,
                    "error.html",
                    {"status": 404, "message": _("Not found.")},
                    status_code=404,
                )
        return None

    return act_or_show_again(
        act,
        again=lambda exc: _detail_page(
            request, actor, db, now, request_id, state=FormState.refused(exc)
        ),
        done=lambda answer: _done(answer, f"{base}?done={action}"),
    )


def _done(answer: Response | None, url: str) -> Response:
    return answer or see_other(url)


@router.get("/{request_id}/export.zip")
def download(
    request_id: Id, actor: ConsoleActor, db: DbDep, now: NowDep, settings: SettingsDep
) -> FileResponse:
    return export_zip(db, actor=actor, request_id=request_id, now=now, settings=settings)
