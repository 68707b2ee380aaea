"""Console pages for webhooks: the endpoints, one endpoint with its delivery log, re-send."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from im2.errors import IM2Error
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep, SettingsDep
from im2.web.forms import service_error, validation_errors
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
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
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
            "values": values or {"kinds": ["conversion.recorded"], "active": True},
            "errors": errors or {},
        },
        status_code=status_code,
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
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
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
            "values": values or endpoint.model_dump(),
            "errors": errors or {},
        },
        status_code=status_code,
    )


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
    try:
        data = WebhookCreate(
            url=values["url"],
            description=values["description"] or None,
            kinds=values["kinds"],
            active=values["active"],
        )
        with db.transaction() as session:
            created = service.do_create_endpoint(
                session,
                actor=actor,
                data=data,
                now=now,
                private_networks=settings.webhooks_reach_private_networks,
            )
    except ValidationError as exc:
        return _list_page(
            request, actor, db, values=values, errors=validation_errors(exc), status_code=422
        )
    except IM2Error as exc:
        return _list_page(
            request,
            actor,
            db,
            values=values,
            errors=service_error(exc),
            status_code=exc.status_code,
        )
    return _detail_page(request, actor, db, created.id, created=created, status_code=201)


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
    try:
        data = WebhookUpdate(
            url=values["url"],
            description=values["description"] or None,
            kinds=values["kinds"],
            active=values["active"],
        )
        with db.transaction() as session:
            service.do_update_endpoint(
                session,
                actor=actor,
                endpoint_id=endpoint_id,
                data=data,
                now=now,
                private_networks=settings.webhooks_reach_private_networks,
            )
    except ValidationError as exc:
        return _detail_page(
            request,
            actor,
            db,
            endpoint_id,
            values=values,
            errors=validation_errors(exc),
            status_code=422,
        )
    except IM2Error as exc:
        if exc.status_code in (403, 404):
            raise
        return _detail_page(
            request,
            actor,
            db,
            endpoint_id,
            values=values,
            errors=service_error(exc),
            status_code=exc.status_code,
        )
    return RedirectResponse(f"{_common(actor)['base']}/{endpoint_id}", status_code=303)


@router.post("/{endpoint_id}/secret")
def rotate_secret(
    request: Request,
    endpoint_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    with db.transaction() as session:
        created = service.do_rotate_secret(session, actor=actor, endpoint_id=endpoint_id, now=now)
    return _detail_page(request, actor, db, endpoint_id, created=created)


@router.post("/{endpoint_id}/delete")
def delete_endpoint(
    endpoint_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    with db.transaction() as session:
        service.do_delete_endpoint(session, actor=actor, endpoint_id=endpoint_id, now=now)
    return RedirectResponse(_common(actor)["base"], status_code=303)


@router.post("/deliveries/{delivery_id}/resend")
def resend(
    delivery_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    with db.transaction() as session:
        delivery = service.do_resend(session, actor=actor, delivery_id=delivery_id, now=now)
    return RedirectResponse(
        f"{_common(actor)['base']}/{delivery.endpoint_id}#delivery-{delivery.id}", status_code=303
    )
