"""JSON API for webhooks: manage endpoints, read the delivery log, re-send a delivery."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from im2.web.db_calls import read, write
from im2.web.deps import ApiActor, DbDep, NowDep, SettingsDep
from im2.web.params import Id
from im2.webhooks import service
from im2.webhooks.schemas import (
    DeliveryPage,
    DeliveryRead,
    DeliveryStatus,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


@router.get("", response_model=list[WebhookRead], summary="The workspace's webhook endpoints")
def list_endpoints(actor: ApiActor, db: DbDep) -> list[WebhookRead]:
    return read(db, service.list_endpoints, actor=actor)


@router.post(
    "",
    response_model=WebhookWithSecret,
    status_code=201,
    summary="Add an endpoint (the signing secret is in this answer only)",
)
def create_endpoint(
    body: WebhookCreate, actor: ApiActor, db: DbDep, now: NowDep, settings: SettingsDep
) -> WebhookWithSecret:
    return write(
        db,
        service.do_create_endpoint,
        actor=actor,
        data=body,
        now=now,
        private_networks=settings.webhooks_reach_private_networks,
    )


@router.get("/deliveries", response_model=DeliveryPage, summary="Deliveries, newest first")
def list_deliveries(
    actor: ApiActor,
    db: DbDep,
    endpoint_id: Id | None = None,
    status: DeliveryStatus | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryPage:
    return read(
        db,
        service.list_deliveries,
        actor=actor,
        endpoint_id=endpoint_id,
        status=status,
        cursor=cursor,
        limit=limit,
    )


@router.get("/deliveries/{delivery_id}", response_model=DeliveryRead, summary="One delivery")
def get_delivery(delivery_id: Id, actor: ApiActor, db: DbDep) -> DeliveryRead:
    return read(db, service.get_delivery, actor=actor, delivery_id=delivery_id)


@router.post(
    "/deliveries/{delivery_id}/resend",
    response_model=DeliveryRead,
    summary="Send a delivery again (queued now, from its first attempt)",
)
def resend(delivery_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> DeliveryRead:
    return write(db, service.do_resend, actor=actor, delivery_id=delivery_id, now=now)


@router.get("/{endpoint_id}", response_model=WebhookRead, summary="One endpoint")
def get_endpoint(endpoint_id: Id, actor: ApiActor, db: DbDep) -> WebhookRead:
    return read(db, service.get_endpoint, actor=actor, endpoint_id=endpoint_id)


@router.patch("/{endpoint_id}", response_model=WebhookRead, summary="Change an endpoint")
def update_endpoint(
    endpoint_id: Id,
    body: WebhookUpdate,
    actor: ApiActor,
    db: DbDep,
    now: NowDep,
    settings: SettingsDep,
) -> WebhookRead:
    return write(
        db,
        service.do_update_endpoint,
        actor=actor,
        endpoint_id=endpoint_id,
        data=body,
        now=now,
        private_networks=settings.webhooks_reach_private_networks,
    )


@router.post(
    "/{endpoint_id}/secret",
    response_model=WebhookWithSecret,
    summary="Rotate the signing secret (the new one is in this answer only)",
)
def rotate_secret(endpoint_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> WebhookWithSecret:
    return write(db, service.do_rotate_secret, actor=actor, endpoint_id=endpoint_id, now=now)


@router.delete("/{endpoint_id}", status_code=204, summary="Remove an endpoint and its log")
def delete_endpoint(endpoint_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> Response:
    write(db, service.do_delete_endpoint, actor=actor, endpoint_id=endpoint_id, now=now)
    return Response(status_code=204)
