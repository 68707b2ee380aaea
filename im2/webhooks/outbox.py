"""The outbox that turns events into deliveries (never for people whose data may not be sent)
and the bookkeeping of each delivery attempt: claim, sign, record. Sending itself (HTTP)
happens in `im2.webhooks.jobs`, never in a request.

Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from im2 import isolation
from im2.events.schemas import EventRecord
from im2.events.service import list_events
from im2.webhooks.models import WebhookCursor, WebhookDelivery, WebhookEndpoint
from im2.webhooks.schemas import (
    DeliveryStatus,
)

CURSOR_NAME = "outbox"
# Retries: 30 s, 1 min, 2 min, … (±20 % jitter so that receivers coming back are not hit by
# every sender at the same second), at most 6 h apart; after MAX_ATTEMPTS the delivery fails.
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=6)
MAX_ATTEMPTS = 8
JITTER = 0.2
EXCERPT = 500


# --- consent: what is never sent ------------------------------------------------------------

# Given a workspace and participant ids, which of them may not be sent to receivers: people who
# withdrew consent to sharing with third parties, or whose processing is restricted. Consent
# lives above webhooks (people), so `im2/jobs.py` registers it (`use_withheld`).
Withheld = Callable[[Session, int, set[int]], set[int]]
_withheld: Withheld | None = None
WITHHELD_ERROR = "not sent: the person withdrew consent to sharing with third parties"


def use_withheld(check: Withheld | None) -> None:
    global _withheld
    _withheld = check


def _participant(actor_type: str | None, actor_id: str | None) -> int | None:
    if actor_type == "participant" and actor_id and actor_id.isdigit():
        return int(actor_id)
    return None


def _withheld_events(session: Session, events: list[EventRecord]) -> set[int]:
    """Ids of the events about participants whose data may not be sent."""
    if _withheld is None:
        return set()
    by_workspace: dict[int, set[int]] = {}
    for e in events:
        pid = _participant(e.actor_type, e.actor_id)
        if pid is not None:
            by_workspace.setdefault(e.workspace_id, set()).add(pid)
    out: set[int] = set()
    for workspace_id, pids in by_workspace.items():
        held = _withheld(session, workspace_id, pids)
        out.update(
            e.id
            for e in events
            if e.workspace_id == workspace_id and _participant(e.actor_type, e.actor_id) in held
        )
    return out


# --- the outbox: events → deliveries --------------------------------------------------------


def event_payload(event: EventRecord) -> dict[str, Any]:
    """The JSON body a receiver gets for one event."""
    return {
        "id": event.id,
        "kind": event.kind,
        "occurred_at": event.occurred_at.isoformat(),
        "workspace_id": event.workspace_id,
        "campaign_id": event.campaign_id,
        "activity_id": event.activity_id,
        "actor": {"type": event.actor_type, "id": event.actor_id},
        "channel": event.channel,
        "referrer": event.referrer,
        "properties": event.properties,
    }


@dataclass(frozen=True, slots=True)
class _Subscriber:
    id: int
    kinds: frozenset[str]
    since: datetime


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return pg_insert if dialect == "postgresql" else sqlite_insert


OUTBOX = "webhooks_enqueue"  # the job's name, in logs and dead letters


def enqueue_deliveries(
    session: Session, *, now: datetime, settle: timedelta, batch: int = 500
) -> int:
    """Read the event log after the cursor and create one delivery per subscribed endpoint and
    event (a second run, or a second process, adds nothing: the pair is unique). Events newer
    than `settle` are left for the next run, so that an event whose transaction commits late
    on PostgreSQL is not jumped over. Returns how many events were read."""
    cursor = session.get(WebhookCursor, CURSOR_NAME)
    after = cursor.last_event_id if cursor is not None else 0
    horizon = now - settle if settle else None
    events = list_events(session, after_id=after, limit=batch)
    if horizon is not None:
        ready: list[EventRecord] = []
        for event in events:
            if event.occurred_at >= horizon:
                break  # later ids wait too: the cursor only moves over a settled prefix
            ready.append(event)
        events = ready
    if not events:
        return 0
    subscribers: dict[int, list[_Subscriber]] = {}
    for row in session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))):
        subscribers.setdefault(row.workspace_id, []).append(
            _Subscriber(row.id, frozenset(row.kinds), row.created_at)
        )
    withheld = _withheld_events(session, events) if subscribers else set()

    def rows_of(event: EventRecord) -> list[dict[str, Any]]:
        return (
            [
                {
                    "workspace_id": event.workspace_id,
                    "endpoint_id": sub.id,
                    "event_id": event.id,
                    "kind": event.kind,
                    "payload": event_payload(event),
                    "status": DeliveryStatus.PENDING.value,
                    "attempts": 0,
                    "resends": 0,
                    "created_at": now,
                    "next_attempt_at": now,
                }
                for sub in subscribers.get(event.workspace_id, ())
                # An endpoint hears of what happened from its creation on, not of the past.
                if event.kind in sub.kinds and event.occurred_at >= sub.since
            ]
            if event.id not in withheld
            else []
        )

    def add(rows: list[dict[str, Any]]) -> None:
        if rows:
            session.execute(
                _insert(session)(WebhookDelivery).on_conflict_do_nothing(
                    index_elements=["endpoint_id", "event_id"]
                ),
                rows,
            )

    def failed(event: EventRecord, exc: Exception) -> None:
        isolation.dead_letter(
            session,
            job=OUTBOX,
            event_id=event.id,
            workspace_id=event.workspace_id,
            kind=event.kind,
            exc=exc,
            now=now,
        )

    # The batch's deliveries in one statement; should that fail on one event (legacy data, a
    # bug), again event by event, so that only that event is dead-lettered and passed over.
    whole = isolation.each_in_savepoint(
        session,
        [events],
        lambda batch: add([r for e in batch for r in rows_of(e)]),
        job=OUTBOX,
        key=lambda batch: f"events {batch[0].id}-{batch[-1].id} at once (now one by one)",
    )
    if whole.failed:
        isolation.each_in_savepoint(
            session,
            events,
            lambda event: add(rows_of(event)),
            job=OUTBOX,
            key=lambda e: f"event {e.id} (workspace {e.workspace_id})",
            failed=failed,
        )
    last = events[-1].id
    if cursor is None:
        stmt = _insert(session)(WebhookCursor).on_conflict_do_nothing(index_elements=["name"])
        session.execute(stmt, [{"name": CURSOR_NAME, "last_event_id": last, "updated_at": now}])
    else:
        # Conditional: a second process that read the same events moves nothing backwards.
        session.execute(
            update(WebhookCursor)
            .where(WebhookCursor.name == CURSOR_NAME, WebhookCursor.last_event_id < last)
            .values(last_event_id=last, updated_at=now)
        )
    return len(events)


# --- sending: claim, sign, record -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery a sender holds (by its claim token) until it records the outcome."""

    id: int
    claim: str
    endpoint_id: int
    url: str
    secret: str
    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    response: str | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def body_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body, keyed with the secret>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def claim_due(
    session: Session, *, now: datetime, limit: int, per_endpoint: int, lease: timedelta
) -> list[Claimed]:
    """Take up to `limit` due deliveries of active endpoints (at most `per_endpoint` each, so
    one slow receiver cannot hold every sender), leased until `now + lease`."""
    free = or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until <= now)
    due = and_(
        WebhookDelivery.status == DeliveryStatus.PENDING.value,
        WebhookDelivery.next_attempt_at <= now,
        free,
    )
    candidates = session.execute(
        select(WebhookDelivery.id, WebhookDelivery.endpoint_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(due, WebhookEndpoint.active.is_(True))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit * 4)
    ).all()
    per: dict[int, int] = {}
    chosen: list[int] = []
    for delivery_id, endpoint_id in candidates:
        if per.get(endpoint_id, 0) >= per_endpoint:
            continue
        per[endpoint_id] = per.get(endpoint_id, 0) + 1
        chosen.append(delivery_id)
        if len(chosen) >= limit:
            break
    if not chosen:
        return []
    token = secrets.token_hex(16)
    # Conditional: a delivery another sender claimed in the meantime is not taken again.
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(chosen), due)
        .values(claim=token, locked_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(
        select(WebhookDelivery, WebhookEndpoint)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.claim == token)
        .order_by(WebhookDelivery.id)
    ).all()
    # A delivery queued before its person withdrew consent is not sent either: it fails now.
    held = _withheld_deliveries(session, [d for d, _e in rows])
    for d, _e in rows:
        if d.id in held:
            d.status = DeliveryStatus.FAILED.value
            d.last_error = WITHHELD_ERROR
            d.claim = None
            d.locked_until = None
            d.next_attempt_at = None
    return [
        Claimed(
            id=d.id,
            claim=token,
            endpoint_id=e.id,
            url=e.url,
            secret=e.secret,
            kind=d.kind,
            payload=dict(d.payload),
        )
        for d, e in rows
        if d.id not in held
    ]


def _withheld_deliveries(session: Session, deliveries: list[WebhookDelivery]) -> set[int]:
    if _withheld is None:
        return set()
    by_workspace: dict[int, dict[int, int]] = {}
    for d in deliveries:
        actor = d.payload.get("actor") or {}
        pid = _participant(actor.get("type"), actor.get("id"))
        if pid is not None:
            by_workspace.setdefault(d.workspace_id, {})[d.id] = pid
    held: set[int] = set()
    for workspace_id, pids in by_workspace.items():
        out = _withheld(session, workspace_id, set(pids.values()))
        held.update(i for i, pid in pids.items() if pid in out)
    return held


def retry_delay(attempt: int, rng: random.Random) -> timedelta:
    """The wait after failed attempt number `attempt` (1-based): doubling, jittered, capped."""
    base: timedelta = min(BASE_DELAY * (2 ** (attempt - 1)), MAX_DELAY)
    factor: float = rng.uniform(1 - JITTER, 1 + JITTER)
    return base * factor


def record_outcome(
    session: Session,
    *,
    claimed: Claimed,
    outcome: Outcome,
    now: datetime,
    max_attempts: int = MAX_ATTEMPTS,
    rng: random.Random | None = None,
) -> bool:
    """Write one attempt's result; False when the claim was lost (re-sent meanwhile)."""
    row = session.get(WebhookDelivery, claimed.id)
    if row is None or row.claim != claimed.claim:
        return False
    attempts = row.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_attempt_at": now,
        "last_status_code": outcome.status_code,
        "last_response": (outcome.response or "")[:EXCERPT] or None,
        "last_error": (outcome.error or "")[:300] or None,
        "last_duration_ms": outcome.duration_ms,
        "claim": None,
        "locked_until": None,
    }
    if outcome.ok:
        values.update(status=DeliveryStatus.DELIVERED.value, delivered_at=now, next_attempt_at=None)
    elif attempts >= max_attempts:
        values.update(status=DeliveryStatus.FAILED.value, next_attempt_at=None)
    else:
        delay = retry_delay(attempts, rng or random.Random())  # noqa: S311 (jitter)
        values.update(next_attempt_at=now + delay)
    result = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == claimed.id, WebhookDelivery.claim == claimed.claim)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
