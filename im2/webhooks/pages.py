"""Console pages for webhooks: the endpoints, one endpoint with its delivery log, re-send."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from im2.web.db_calls import write
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep, SettingsDep
from im2.web.forms import FormState, save_or_show_again
from im2.web.params import Id
from im2.web.templating import render
from im2.webhooks import service
from im2.webhooks.schemas import (
    DELIVERY_STATUS_LABELS,
    DeliveryStatus,
    WebhookCreate,
    WebhookUpdate,
    WebhookWithSecret,
)
from im2.workspaces.schemas import Actor, Permission

router = APIRouter(prefix="/console/w/{workspace}/webhooks", include_in_schema=False)
LOG_SIZE = 100


def _common(actor: Actor) -> dict[str, Any]:
    return {
        "nav": "tokens",
        "can_manage": actor.can(Permission.MANAGE_TOKENS),
        "all_kinds": service.SUBSCRIBABLE,
        "status_labels": DELIVERY_STATUS_LABELS,
        "base": f"/console/w/{actor.workspace_slug}/webhooks",
    }


def _form_values(form: FormData) -> dict[str, Any]:
    return {
        "url": str(form.get("url", "")),
        "description": str(form.get("description", "")),
        "kinds": [str(k) for k in form.getlist("kinds")],
        "active": form.get("active") == "on",
    }


def _list_page(
    request: Request,
    actor: Actor,
    db: Any,
    *,
    state: FormState = FormState(),
) -> Response:
    with db.session() as session:
        endpoints = service.list_endpoints(session, actor=actor)
        failed = service.list_deliveries(
            session, actor=actor, status=DeliveryStatus.FAILED, limit=20
        )
    return render(
        request,
        "webhooks/list.html",
        {
            **_common(actor),
            "endpoints": endpoints,
            "failed": failed.items,
            **state.shown({"kinds": ["conversion.recorded"], "active": True}),
        },
        status_code=state.status_code,
    )


@router.get("")
def endpoints_page(request: Request, actor: ConsoleActor, db: DbDep) -> Response:
    return _list_page(request, actor, db)


def _detail_page(
    request: Request,
    actor: Actor,
    db: Any,
    endpoint_id: int,
    *,
    created: WebhookWithSecret | None = None,
    state: FormState = FormState(),
) -> Response:
    with db.session() as session:
        endpoint = service.get_endpoint(session, actor=actor, endpoint_id=endpoint_id)
        log = service.list_deliveries(session, actor=actor, endpoint_id=endpoint_id, limit=LOG_SIZE)
    return render(
        request,
        "webhooks/detail.html",
        {
            **_common(actor),
            "endpoint": endpoint,
            "deliveries": log.items,
            "created": created,
            **state.shown(endpoint.model_dump()),
        },
        status_code=state.status_code,
    )


def _body(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": values["url"],
        "description": values["description"] or None,
        "kinds": values["kinds"],
        "active": values["active"],
    }


@router.post("")
def create_endpoint(
    request: Request,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
    settings: SettingsDep,
) -> Response:
    values = _form_values(form)

    def save() -> WebhookWithSecret:
        data = WebhookCreate(**_body(values))
        return write(
            db,
            service.do_create_endpoint,
            actor=actor,
            data=data,
            now=now,
            private_networks=settings.webhooks_reach_private_networks,
        )

    return save_or_show_again(
        save,
        again=partial(_list_page, request, actor, db),
        values=values,
        done=lambda created: _detail_page(
            request, actor, db, created.id, created=created, state=FormState(status_code=201)
        ),
        propagate=(),
    )


@router.get("/{endpoint_id}")
def endpoint_page(request: Request, endpoint_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    return _detail_page(request, actor, db, endpoint_id)


@router.post("/{endpoint_id}")
def update_endpoint(
    request: Request,
    endpoint_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
    settings: SettingsDep,
) -> Response:
    values = _form_values(form)

    def save() -> None:
        data = WebhookUpdate(**_body(values))
        write(
            db,
            service.do_update_endpoint,
            actor=actor,
            endpoint_id=endpoint_id,
            data=data,
            now=now,
            private_networks=settings.webhooks_reach_private_networks,
        )

    return save_or_show_again(
        save,
        again=partial(_detail_page, request, actor, db, endpoint_id),
        values=values,
        done=f"{_common(actor)['base']}/{endpoint_id}",
    )


@router.post("/{endpoint_id}/secret")
def rotate_secret(
    request: Request,
    endpoint_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    created = write(db, service.do_rotate_secret, actor=actor, endpoint_id=endpoint_id, now=now)
    return _detail_page(request, actor, db, endpoint_id, created=created)


@router.post("/{endpoint_id}/delete")
def delete_endpoint(
    endpoint_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    write(db, service.do_delete_endpoint, actor=actor, endpoint_id=endpoint_id, now=now)
    return RedirectResponse(_common(actor)["base"], status_code=303)


@router.post("/deliveries/{delivery_id}/resend")
def resend(
    delivery_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    delivery = write(db, service.do_resend, actor=actor, delivery_id=delivery_id, now=now)
    return RedirectResponse(
        f"{_common(actor)['base']}/{delivery.endpoint_id}#delivery-{delivery.id}", status_code=303
    )
