"""Webhook endpoints (create, change, rotate the secret, delete) and their deliveries as the
console and the API list them, with the resend of one delivery.

Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from im2 import outbound
from im2.errors import InvalidInput
from im2.events.schemas import EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.pagination import decode_cursor, encode_cursor
from im2.webhooks.models import WebhookDelivery, WebhookEndpoint
from im2.webhooks.schemas import (
    DeliveryPage,
    DeliveryRead,
    DeliveryStatus,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import owned_row, record_audit, require

SECRET_PREFIX = "whsec_"
SUBSCRIBABLE = tuple(k.value for k in EventKind)


# --- endpoints ------------------------------------------------------------------------------


def check_url(url: str, *, private_networks: bool) -> str:
    """The receiver's URL in its canonical spelling (`im2.outbound`, which reads it again before
    every attempt); without `private_networks`, an address that is plainly not public
    (loopback, private ranges, link-local such as the cloud metadata address, localhost, in any
    spelling) is refused."""
    return outbound.check_url(
        url, field="url", wording=outbound.WEBHOOK_URL, private_networks=private_networks
    )


def check_kinds(kinds: list[str]) -> list[str]:
    wanted = list(dict.fromkeys(k.strip() for k in kinds if k.strip()))
    if not wanted:
        raise InvalidInput(_("Choose at least one event kind to send."), field="kinds")
    unknown = [k for k in wanted if k not in SUBSCRIBABLE]
    if unknown:
        raise InvalidInput(
            _("Unknown event kind {name}; known kinds: {known}.").format(
                name=", ".join(unknown), known=", ".join(SUBSCRIBABLE)
            ),
            field="kinds",
        )
    return wanted


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _read(row: WebhookEndpoint) -> WebhookRead:
    return WebhookRead(
        id=row.id,
        url=row.url,
        description=row.description,
        kinds=list(row.kinds),
        active=row.active,
        secret_hint=row.secret[-4:],
        created_at=row.created_at,
        updated_at=row.updated_at,
        secret_rotated_at=row.secret_rotated_at,
    )


def _with_secret(row: WebhookEndpoint) -> WebhookWithSecret:
    return WebhookWithSecret(**_read(row).model_dump(), secret=row.secret)


def _snapshot(row: WebhookEndpoint) -> dict[str, Any]:
    return {
        "url": row.url,
        "description": row.description,
        "kinds": list(row.kinds),
        "active": row.active,
    }


def _load(session: Session, *, actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    row = owned_row(
        session, WebhookEndpoint, endpoint_id, actor=actor, missing=_("Webhook endpoint not found.")
    )
    return row


def list_endpoints(session: Session, *, actor: Actor) -> list[WebhookRead]:
    require(actor, Permission.READ_TOKENS)
    rows = session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.workspace_id == actor.workspace_id)
        .order_by(WebhookEndpoint.id)
    )
    return [_read(r) for r in rows]


def get_endpoint(session: Session, *, actor: Actor, endpoint_id: int) -> WebhookRead:
    require(actor, Permission.READ_TOKENS)
    return _read(_load(session, actor=actor, endpoint_id=endpoint_id))


def _record(
    session: Session,
    *,
    actor: Actor,
    row: WebhookEndpoint,
    kind: EventKind,
    action: str,
    summary: str,
    before: dict[str, Any] | None,
    now: datetime,
    properties: dict[str, Any],
) -> None:
    record_event(
        session,
        kind=kind,
        occurred_at=now,
        workspace_id=row.workspace_id,
        actor_type=actor.type,
        actor_id=actor.id,
        properties={"endpoint_id": row.id, **properties},
    )
    record_audit(
        session,
        actor,
        action,
        ("webhook", row.id),
        summary,
        now=now,
        before=before,
        after=_snapshot(row),
        workspace_id=row.workspace_id,
    )


def do_create_endpoint(
    session: Session,
    *,
    actor: Actor,
    data: WebhookCreate,
    now: datetime,
    private_networks: bool = False,
) -> WebhookWithSecret:
    """A new endpoint with a fresh secret, returned once (store it on the receiving side)."""
    require(actor, Permission.MANAGE_TOKENS)
    row = WebhookEndpoint(
        workspace_id=actor.workspace_id,
        url=check_url(data.url, private_networks=private_networks),
        description=(data.description or "").strip() or None,
        secret=_new_secret(),
        kinds=check_kinds(data.kinds),
        active=data.active,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    _record(
        session,
        actor=actor,
        row=row,
        kind=EventKind.WEBHOOK_CREATED,
        action="webhook.create",
        summary=f"Webhook endpoint {row.url}",
        before=None,
        now=now,
        properties={"kinds": list(row.kinds)},
    )
    return _with_secret(row)


def do_update_endpoint(
    session: Session,
    *,
    actor: Actor,
    endpoint_id: int,
    data: WebhookUpdate,
    now: datetime,
    private_networks: bool = False,
) -> WebhookRead:
    require(actor, Permission.MANAGE_TOKENS)
    row = _load(session, actor=actor, endpoint_id=endpoint_id)
    before = _snapshot(row)
    fields = data.model_fields_set
    if "url" in fields and data.url is not None:
        row.url = check_url(data.url, private_networks=private_networks)
    if "description" in fields:
        row.description = (data.description or "").strip() or None
    if "kinds" in fields and data.kinds is not None:
        row.kinds = check_kinds(data.kinds)
    if "active" in fields and data.active is not None:
        row.active = data.active
    if _snapshot(row) == before:
        return _read(row)
    row.updated_at = now
    _record(
        session,
        actor=actor,
        row=row,
        kind=EventKind.WEBHOOK_UPDATED,
        action="webhook.update",
        summary=f"Webhook endpoint {row.url}",
        before=before,
        now=now,
        properties={"change": "settings"},
    )
    return _read(row)


def do_rotate_secret(
    session: Session, *, actor: Actor, endpoint_id: int, now: datetime
) -> WebhookWithSecret:
    """A new signing secret, effective for every attempt from now on; the old one stops."""
    require(actor, Permission.MANAGE_TOKENS)
    row = _load(session, actor=actor, endpoint_id=endpoint_id)
    row.secret = _new_secret()
    row.secret_rotated_at = now
    row.updated_at = now
    _record(
        session,
        actor=actor,
        row=row,
        kind=EventKind.WEBHOOK_UPDATED,
        action="webhook.rotate_secret",
        summary=f"New signing secret for {row.url}",
        before=None,
        now=now,
        properties={"change": "secret"},
    )
    return _with_secret(row)


def do_delete_endpoint(session: Session, *, actor: Actor, endpoint_id: int, now: datetime) -> None:
    """Remove the endpoint and its delivery log; nothing more is sent to it."""
    require(actor, Permission.MANAGE_TOKENS)
    row = _load(session, actor=actor, endpoint_id=endpoint_id)
    before = _snapshot(row)
    record_event(
        session,
        kind=EventKind.WEBHOOK_UPDATED,
        occurred_at=now,
        workspace_id=row.workspace_id,
        actor_type=actor.type,
        actor_id=actor.id,
        properties={"endpoint_id": row.id, "change": "deleted"},
    )
    record_audit(
        session,
        actor,
        "webhook.delete",
        ("webhook", row.id),
        f"Webhook endpoint {row.url} deleted",
        now=now,
        before=before,
        workspace_id=row.workspace_id,
    )
    session.delete(row)


# --- deliveries -----------------------------------------------------------------------------


def _delivery(row: WebhookDelivery) -> DeliveryRead:
    return DeliveryRead(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        kind=row.kind,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        resends=row.resends,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at if row.status == DeliveryStatus.PENDING else None,
        last_attempt_at=row.last_attempt_at,
        last_status_code=row.last_status_code,
        last_response=row.last_response,
        last_error=row.last_error,
        last_duration_ms=row.last_duration_ms,
        delivered_at=row.delivered_at,
    )


def list_deliveries(
    session: Session,
    *,
    actor: Actor,
    endpoint_id: int | None = None,
    status: DeliveryStatus | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> DeliveryPage:
    """Newest first."""
    require(actor, Permission.READ_TOKENS)
    query = select(WebhookDelivery).where(WebhookDelivery.workspace_id == actor.workspace_id)
    if endpoint_id is not None:
        _load(session, actor=actor, endpoint_id=endpoint_id)
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status.value)
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(WebhookDelivery.id < after)
    rows = list(session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return DeliveryPage(
        items=[_delivery(r) for r in rows],
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
    )


def get_delivery(session: Session, *, actor: Actor, delivery_id: int) -> DeliveryRead:
    require(actor, Permission.READ_TOKENS)
    row = owned_row(
        session, WebhookDelivery, delivery_id, actor=actor, missing=_("Webhook delivery not found.")
    )
    return _delivery(row)


def do_resend(session: Session, *, actor: Actor, delivery_id: int, now: datetime) -> DeliveryRead:
    """Queue the delivery again from its first attempt, due now, whatever its state (an
    attempt in flight is disowned: only the re-send's outcome will be recorded)."""
    require(actor, Permission.MANAGE_TOKENS)
    row = owned_row(
        session, WebhookDelivery, delivery_id, actor=actor, missing=_("Webhook delivery not found.")
    )
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == row.id)
        .values(
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            resends=WebhookDelivery.resends + 1,
            next_attempt_at=now,
            claim=None,
            locked_until=None,
        )
    )
    session.refresh(row)
    record_audit(
        session,
        actor,
        "webhook.resend",
        ("webhook_delivery", row.id),
        f"Re-send of event {row.event_id} ({row.kind})",
        now=now,
        after={"endpoint_id": row.endpoint_id, "event_id": row.event_id},
        workspace_id=row.workspace_id,
    )
    return _delivery(row)
