"""SMS settings per workspace, the delivery outbox and its log. Sending itself (HTTP) happens in
`im2.messaging.jobs`, never in a request: a request only queues a delivery, in its own
transaction, so a code is stored and queued together or not at all. The queueing announces
`MESSAGES_QUEUED` after the commit, so the server sends at once (`jobs.SendSoon`).

Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.crypto import Undecryptable, keyring
from im2.db import announce
from im2.errors import InvalidInput
from im2.i18n import _
from im2.masking import mask_phone
from im2.messaging.caps import SmsCaps
from im2.messaging.models import MessageDelivery, SmsSettings
from im2.messaging.providers import Account, Message, Outcome, SendResult, e164, national
from im2.messaging.schemas import (
    DeliveryRead,
    DeliveryStatus,
    MessageKind,
    SmsProvider,
    SmsSettingsRead,
    SmsSettingsUpdate,
)
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

NUMBER_PURPOSE = "sms-number"
# Announced (`im2.db.announce`, key: the delivery id) when a delivery is queued and committed.
MESSAGES_QUEUED = "messages_queued"
# A code lives ten minutes: retry soon, a few times (5 s, 20 s, ±20 %), then tell the
# participant to ask again rather than deliver a code that has nearly expired.
MAX_ATTEMPTS = 3
BASE_DELAY = timedelta(seconds=5)
BACKOFF = 4
JITTER = 0.2
LEASE = timedelta(seconds=60)
# Provider status codes that mean the AccessKey or its signature was refused.
AUTH_STATUSES = frozenset(
    {
        "InvalidAccessKeyId.NotFound",
        "InvalidAccessKeyId.Inactive",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "Forbidden.RAM",
    }
)


# --- settings -----------------------------------------------------------------------------


def _read(row: SmsSettings) -> SmsSettingsRead:
    return SmsSettingsRead(
        provider=SmsProvider(row.provider),
        access_key_id=row.access_key_id,
        secret_hint=row.secret_tail,
        sign_name=row.sign_name,
        app_id=row.app_id,
        region=row.region,
        templates=dict(row.templates),
        daily_cap_per_number=row.daily_cap_per_number,
        active=row.active,
        updated_at=row.updated_at,
    )


def _snapshot(row: SmsSettings) -> dict[str, Any]:
    """What the audit log keeps of a change: never the secret, only its last characters."""
    return {
        "provider": row.provider,
        "access_key_id": row.access_key_id,
        "secret_hint": row.secret_tail,
        "sign_name": row.sign_name,
        "app_id": row.app_id,
        "region": row.region,
        "templates": dict(row.templates),
        "daily_cap_per_number": row.daily_cap_per_number,
        "active": row.active,
    }


def _account(session: Session, workspace_id: int, *, lock: bool = False) -> SmsSettings | None:
    query = select(SmsSettings).where(SmsSettings.workspace_id == workspace_id)
    return session.scalar(query.with_for_update() if lock else query)


def get_sms_settings(session: Session, *, actor: Actor) -> SmsSettingsRead | None:
    require(actor, Permission.READ_TOKENS)
    row = _account(session, actor.workspace_id)
    return None if row is None else _read(row)


def do_save_sms_settings(
    session: Session, *, actor: Actor, data: SmsSettingsUpdate, now: datetime
) -> SmsSettingsRead:
    """Create or change the workspace's SMS account. A blank secret keeps the stored one."""
    require(actor, Permission.MANAGE_TOKENS)
    if data.provider is SmsProvider.TENCENT and not data.app_id:
        raise InvalidInput(_("Tencent Cloud needs the SMS application's SdkAppId."), field="app_id")
    row = _account(session, actor.workspace_id, lock=True)
    secret = data.access_key_secret or None
    if row is None and secret is None:
        raise InvalidInput(_("Enter the AccessKey secret."), field="access_key_secret")
    before = None if row is None else _snapshot(row)
    if row is None:
        # Two first saves at once: the unique workspace makes one insert; the other updates it.
        try:
            with session.begin_nested():
                session.execute(
                    insert(SmsSettings).values(
                        workspace_id=actor.workspace_id,
                        provider=data.provider.value,
                        access_key_id=data.access_key_id,
                        access_key_secret=secret or "",
                        secret_tail=(secret or "")[-4:],
                        sign_name=data.sign_name,
                        templates={},
                        daily_cap_per_number=data.daily_cap_per_number,
                        active=data.active,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            pass
        row = _account(session, actor.workspace_id, lock=True)
        assert row is not None
    if secret is not None:
        row.access_key_secret = secret
        row.secret_tail = secret[-4:]
    row.provider = data.provider.value
    row.access_key_id = data.access_key_id
    row.sign_name = data.sign_name
    row.app_id = data.app_id or None if data.provider is SmsProvider.TENCENT else None
    row.region = data.region or None if data.provider is SmsProvider.TENCENT else None
    row.templates = {MessageKind.VERIFY_CODE.value: data.verify_template}
    row.daily_cap_per_number = data.daily_cap_per_number
    row.active = data.active
    row.updated_at = now
    session.flush()
    record_audit(
        session,
        actor,
        "sms_settings.saved",
        ("sms_settings", actor.workspace_id),
        f"SMS through {row.provider}, key {row.access_key_id}",
        now=now,
        before=before,
        after=_snapshot(row),
    )
    return _read(row)


def sms_ready(session: Session, *, workspace_id: int) -> bool:
    """Whether phone codes of this workspace go out by SMS (an active provider account)."""
    row = _account(session, workspace_id)
    return row is not None and row.active


# --- queueing -------------------------------------------------------------------------------


def number_hash(phone: str) -> str:
    """The keyed hash a number is counted and found by (its +86 form, however it was typed)."""
    return keyring().lookup_hash(NUMBER_PURPOSE, e164(phone))


def do_queue_code(
    session: Session,
    *,
    workspace_id: int,
    participant_id: int | None,
    phone: str,
    code: str,
    caps: SmsCaps,
    ip: str | None,
    now: datetime,
) -> int:
    """Queue a verification code by SMS in the caller's transaction (the job sends it).
    Refused with 429 when the number's daily cap or the network's cap is reached."""
    row = _account(session, workspace_id)
    if row is None or not row.active:
        raise InvalidInput(_("Codes by text message are not available here."), field="channel")
    hashed = number_hash(phone)
    caps.hit(
        workspace_id=workspace_id,
        number_hash=hashed,
        daily_cap=row.daily_cap_per_number,
        ip=ip,
    )
    delivery = MessageDelivery(
        workspace_id=workspace_id,
        participant_id=participant_id,
        kind=MessageKind.VERIFY_CODE.value,
        destination=phone,
        destination_hash=hashed,
        destination_masked=mask_phone(national(phone)),
        params=json.dumps({"code": code}),
        provider=row.provider,
        template=row.templates.get(MessageKind.VERIFY_CODE.value, ""),
        status=DeliveryStatus.PENDING.value,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(delivery)
    session.flush()
    announce(session, MESSAGES_QUEUED, delivery.id)
    return delivery.id


def code_delivery_status(session: Session, *, participant_id: int) -> DeliveryStatus | None:
    """The state of the newest code sent to this participant by SMS (None: none was)."""
    status = session.scalar(
        select(MessageDelivery.status)
        .where(
            MessageDelivery.participant_id == participant_id,
            MessageDelivery.kind == MessageKind.VERIFY_CODE.value,
        )
        .order_by(MessageDelivery.id.desc())
        .limit(1)
    )
    return None if status is None else DeliveryStatus(status)


# --- sending (the job) --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    claim: str
    workspace_id: int
    provider: SmsProvider
    account: Account
    message: Message


def claim_due(
    session: Session, *, now: datetime, limit: int, lease: timedelta = LEASE
) -> list[Claimed]:
    """Take up to `limit` due deliveries, leased until `now + lease` (a sender that dies
    leaves them to be claimed again once the lease runs out)."""
    free = or_(MessageDelivery.locked_until.is_(None), MessageDelivery.locked_until <= now)
    due = and_(
        MessageDelivery.status == DeliveryStatus.PENDING.value,
        MessageDelivery.next_attempt_at <= now,
        free,
    )
    chosen = list(
        session.scalars(
            select(MessageDelivery.id)
            .where(due)
            .order_by(MessageDelivery.next_attempt_at, MessageDelivery.id)
            .limit(limit)
        )
    )
    if not chosen:
        return []
    token = secrets.token_hex(16)
    # Conditional: a delivery another sender claimed meanwhile is not taken twice.
    session.execute(
        update(MessageDelivery)
        .where(MessageDelivery.id.in_(chosen), due)
        .values(claim=token, locked_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    ids = list(
        session.scalars(
            select(MessageDelivery.id)
            .where(MessageDelivery.claim == token)
            .order_by(MessageDelivery.id)
        )
    )
    accounts: dict[int, SmsSettings | None] = {}
    claimed: list[Claimed] = []
    for delivery_id in ids:
        # Each row and account on its own: one that no key opens (a key removed too early)
        # fails its own deliveries, not every workspace's.
        try:
            delivery = session.get_one(MessageDelivery, delivery_id)
            if delivery.workspace_id not in accounts:
                accounts[delivery.workspace_id] = _account(session, delivery.workspace_id)
            account = accounts[delivery.workspace_id]
            secret = account.access_key_secret if account is not None else None
        except Undecryptable:
            _fail_unreadable(session, delivery_id=delivery_id, now=now)
            continue
        if account is None or secret is None or not account.active or delivery.destination is None:
            _finish(delivery, status=DeliveryStatus.FAILED, now=now)
            delivery.error = "SMS is switched off for this workspace"
            continue
        claimed.append(
            Claimed(
                id=delivery.id,
                claim=token,
                workspace_id=delivery.workspace_id,
                provider=SmsProvider(account.provider),
                account=Account(
                    access_key_id=account.access_key_id,
                    secret=secret,
                    sign_name=account.sign_name,
                    app_id=account.app_id,
                    region=account.region,
                ),
                message=Message(
                    phone=delivery.destination,
                    template=delivery.template,
                    params=json.loads(delivery.params or "{}"),
                    reference=str(delivery.id),
                ),
            )
        )
    return claimed


def _fail_unreadable(session: Session, *, delivery_id: int, now: datetime) -> None:
    session.execute(
        update(MessageDelivery)
        .where(MessageDelivery.id == delivery_id)
        .values(
            status=DeliveryStatus.FAILED.value,
            destination=None,
            params=None,
            next_attempt_at=None,
            claim=None,
            locked_until=None,
            last_attempt_at=now,
            error="a stored value opens with none of the configured keys: enter the secret again",
        )
        .execution_options(synchronize_session=False)
    )


def _finish(row: MessageDelivery, *, status: DeliveryStatus, now: datetime) -> None:
    """A final state: the number and the code are not needed any more, so they go."""
    row.status = status.value
    row.destination = None
    row.params = None
    row.next_attempt_at = None
    row.claim = None
    row.locked_until = None
    if status is DeliveryStatus.SENT:
        row.sent_at = now


def retry_delay(attempt: int, rng: random.Random) -> timedelta:
    """The wait after failed attempt number `attempt` (1-based): 5 s, 20 s, … jittered."""
    base: timedelta = BASE_DELAY * (BACKOFF ** (attempt - 1))
    factor: float = rng.uniform(1 - JITTER, 1 + JITTER)
    return base * factor


def record_result(
    session: Session,
    *,
    claimed: Claimed,
    result: SendResult,
    now: datetime,
    max_attempts: int = MAX_ATTEMPTS,
    rng: random.Random | None = None,
) -> bool:
    """Write one attempt's result; False when the claim was lost meanwhile."""
    row = session.get(MessageDelivery, claimed.id, with_for_update=True)
    if row is None or row.claim != claimed.claim:
        return False
    row.attempts += 1
    row.last_attempt_at = now
    row.provider_status = result.provider_status
    row.error = result.error
    row.request_id = result.request_id
    row.biz_id = result.biz_id or row.biz_id
    row.fee = result.fee if result.fee is not None else row.fee
    if result.outcome is Outcome.SENT:
        _finish(row, status=DeliveryStatus.SENT, now=now)
    elif result.outcome is Outcome.FAILED or row.attempts >= max_attempts:
        _finish(row, status=DeliveryStatus.FAILED, now=now)
    else:
        row.next_attempt_at = now + retry_delay(row.attempts, rng or random.Random())  # noqa: S311
        row.claim = None
        row.locked_until = None
    return True


# --- the log ------------------------------------------------------------------------------


def _delivery(row: MessageDelivery) -> DeliveryRead:
    return DeliveryRead(
        id=row.id,
        kind=MessageKind(row.kind),
        destination_masked=row.destination_masked,
        provider=SmsProvider(row.provider),
        template=row.template,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        provider_status=row.provider_status,
        error=row.error,
        request_id=row.request_id,
        biz_id=row.biz_id,
        fee=row.fee,
        created_at=row.created_at,
        last_attempt_at=row.last_attempt_at,
        sent_at=row.sent_at,
    )


def list_deliveries(session: Session, *, actor: Actor, limit: int = 100) -> list[DeliveryRead]:
    """The newest deliveries of the workspace, newest first (numbers masked)."""
    require(actor, Permission.READ_TOKENS)
    rows = session.scalars(
        select(MessageDelivery)
        .where(MessageDelivery.workspace_id == actor.workspace_id)
        .order_by(MessageDelivery.id.desc())
        .limit(limit)
    )
    return [_delivery(r) for r in rows]


def credentials_refused(delivery: DeliveryRead) -> bool:
    """Whether the provider refused the AccessKey (a wrong id or secret), not the message."""
    status = delivery.provider_status or ""
    return status in AUTH_STATUSES or status.startswith("AuthFailure")
