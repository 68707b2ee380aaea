"""The points ledger: every participant's wallet, credits (awards), debits (spends) and expiry.

The ledger is append-only. A balance is what is left of the credits that have not expired,
spending first in, first out; an expiry entry takes what is left of the credit it names. Every
entry has a key that is unique in its workspace, so each award or spend happens once however
often it is retried. A participant's spends are serialised by locking their wallet row
(PostgreSQL `FOR UPDATE`; SQLite write transactions are serialised by
`Database.transaction()` already).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from im2.errors import IM2Error, InvalidInput
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.incentives.levels import RewardLevel
from im2.incentives.models import Cursor, PointEntry, Wallet
from im2.incentives.schemas import Balance, LedgerLine

EXPIRING_SOON = timedelta(days=7)


class NotEnoughPoints(IM2Error):
    status_code = 409
    code = "not_enough_points"


def _wallet(session: Session, *, workspace_id: int, participant_id: int, now: datetime) -> Wallet:
    """The participant's wallet row, created on first use and locked until the transaction ends
    (PostgreSQL; on SQLite the whole write transaction is already exclusive)."""
    query = (
        select(Wallet)
        .where(Wallet.workspace_id == workspace_id, Wallet.participant_id == participant_id)
        .with_for_update()
    )
    wallet = session.scalar(query)
    if wallet is not None:
        return wallet
    try:
        with session.begin_nested():
            session.add(
                Wallet(workspace_id=workspace_id, participant_id=participant_id, created_at=now)
            )
    except IntegrityError:
        pass  # created by a concurrent request: lock theirs
    wallet = session.scalar(query)
    assert wallet is not None
    return wallet


def lock_wallet(session: Session, *, workspace_id: int, participant_id: int, now: datetime) -> None:
    """Lock the participant's wallet until the transaction ends (awards checked against caps)."""
    _wallet(session, workspace_id=workspace_id, participant_id=participant_id, now=now)


def _entries(session: Session, *, workspace_id: int, participant_id: int) -> list[PointEntry]:
    return list(
        session.scalars(
            select(PointEntry)
            .where(
                PointEntry.workspace_id == workspace_id,
                PointEntry.participant_id == participant_id,
            )
            .order_by(PointEntry.id)
        )
    )


def _lots(entries: Iterable[PointEntry]) -> dict[int, tuple[int, datetime | None, PointEntry]]:
    """What is left of every credit, spending first in, first out; an expiry takes what is left
    of the credit it names."""
    left: dict[int, int] = {}
    credits: dict[int, PointEntry] = {}
    for entry in entries:
        if entry.delta > 0:
            left[entry.id] = entry.delta
            credits[entry.id] = entry
        elif entry.kind == "expiry" and entry.lot_id is not None:
            left[entry.lot_id] = left.get(entry.lot_id, 0) + entry.delta
        elif entry.delta < 0:
            owed = -entry.delta
            for lot_id in left:
                if owed == 0:
                    break
                take = min(owed, max(left[lot_id], 0))
                left[lot_id] -= take
                owed -= take
    return {i: (left[i], credits[i].expires_at, credits[i]) for i in credits}


def _expire_lots(
    session: Session,
    *,
    workspace_id: int,
    participant_id: int,
    entries: list[PointEntry],
    now: datetime,
) -> int:
    """Write an expiry entry for the unspent part of every credit that has expired; the caller
    holds the wallet lock. Returns the points expired."""
    expired = 0
    for lot_id, (left, expires_at, credit) in _lots(entries).items():
        if left <= 0 or expires_at is None or expires_at > now:
            continue
        entry = PointEntry(
            workspace_id=workspace_id,
            campaign_id=credit.campaign_id,
            participant_id=participant_id,
            kind="expiry",
            delta=-left,
            reason="expired",
            key=f"expiry:{lot_id}",
            created_at=now,
            lot_id=lot_id,
        )
        session.add(entry)
        session.flush()
        entries.append(entry)
        expired += left
        record_event(
            session,
            kind=EventKind.POINTS_EXPIRED,
            occurred_at=now,
            workspace_id=workspace_id,
            campaign_id=credit.campaign_id,
            actor_type=ActorType.SYSTEM,
            actor_id=None,
            properties={"participant": participant_id, "points": left, "lot": lot_id},
        )
    return expired


def _balance_of(entries: Iterable[PointEntry], now: datetime) -> tuple[int, int, datetime | None]:
    total = 0
    soon = 0
    next_expiry: datetime | None = None
    for left, expires_at, _credit in _lots(entries).values():
        if left <= 0 or (expires_at is not None and expires_at <= now):
            continue
        total += left
        if expires_at is not None:
            if expires_at <= now + EXPIRING_SOON:
                soon += left
            if next_expiry is None or expires_at < next_expiry:
                next_expiry = expires_at
    return total, soon, next_expiry


def get_balance(
    session: Session, *, workspace_id: int, participant_id: int, now: datetime
) -> Balance:
    """The spendable points: what is left of the credits that have not expired by `now`."""
    total, soon, next_expiry = _balance_of(
        _entries(session, workspace_id=workspace_id, participant_id=participant_id), now
    )
    return Balance(
        participant_id=participant_id, points=total, expiring_soon=soon, next_expiry=next_expiry
    )


def _line(row: PointEntry) -> LedgerLine:
    return LedgerLine(
        id=row.id,
        participant_id=row.participant_id,
        campaign_id=row.campaign_id,
        kind=row.kind,
        delta=row.delta,
        reason=row.reason,
        key=row.key,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def list_ledger(
    session: Session,
    *,
    workspace_id: int,
    participant_id: int | None = None,
    campaign_id: int | None = None,
    limit: int = 200,
) -> list[LedgerLine]:
    """Newest first."""
    query = select(PointEntry).where(PointEntry.workspace_id == workspace_id)
    if participant_id is not None:
        query = query.where(PointEntry.participant_id == participant_id)
    if campaign_id is not None:
        query = query.where(PointEntry.campaign_id == campaign_id)
    query = query.order_by(PointEntry.created_at.desc(), PointEntry.id.desc()).limit(limit)
    return [_line(r) for r in session.scalars(query)]


def _insert_entry(session: Session, entry: PointEntry) -> bool:
    """Add a ledger entry; False when its key is already in the ledger (nothing written)."""
    exists = session.scalar(
        select(PointEntry.id).where(
            PointEntry.workspace_id == entry.workspace_id, PointEntry.key == entry.key
        )
    )
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(entry)
    except IntegrityError:
        return False  # the same key committed by a concurrent request
    return True


def award_points(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int | None,
    participant_id: int,
    points: int,
    key: str,
    reason: str,
    now: datetime,
    expires_at: datetime | None = None,
    grant_id: int | None = None,
    rule_id: int | None = None,
    event_id: int | None = None,
    level: RewardLevel | None = None,
) -> bool:
    """Credit points once per key; False (and nothing written) when the key was used before.
    `level` is the experiment variant the (already scaled) points were scaled by, if any; the
    `points.awarded` event names it."""
    if points <= 0:
        raise InvalidInput(_("Points must be a whole number above zero."), field="points")
    entry = PointEntry(
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        participant_id=participant_id,
        kind="award",
        delta=points,
        reason=reason[:200],
        key=key,
        created_at=now,
        expires_at=expires_at,
        grant_id=grant_id,
        rule_id=rule_id,
        event_id=event_id,
    )
    if not _insert_entry(session, entry):
        return False
    record_event(
        session,
        kind=EventKind.POINTS_AWARDED,
        occurred_at=now,
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        actor_type=ActorType.SYSTEM,
        actor_id=None,
        properties={
            "participant": participant_id,
            "points": points,
            "reason": reason[:200],
            "key": key,
            **({"rule": rule_id} if rule_id is not None else {}),
            **({"source_event": event_id} if event_id is not None else {}),
            **(_level_properties(level) if level is not None else {}),
        },
    )
    return True


def _level_properties(level: RewardLevel) -> dict[str, Any]:
    return {
        "experiment": level.experiment_key,
        "variant": level.variant,
        "reward_level": level.level,
    }


def spend_points(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int | None,
    participant_id: int,
    points: int,
    key: str,
    reason: str,
    now: datetime,
) -> bool:
    """Debit points once per key, never below zero; False when the key was spent before.
    Raises NotEnoughPoints (409) with nothing written when the balance is short."""
    if points <= 0:
        raise InvalidInput(_("Points must be a whole number above zero."), field="points")
    _wallet(session, workspace_id=workspace_id, participant_id=participant_id, now=now)
    if session.scalar(
        select(PointEntry.id).where(PointEntry.workspace_id == workspace_id, PointEntry.key == key)
    ):
        return False
    entries = _entries(session, workspace_id=workspace_id, participant_id=participant_id)
    _expire_lots(
        session,
        workspace_id=workspace_id,
        participant_id=participant_id,
        entries=entries,
        now=now,
    )
    balance = sum(e.delta for e in entries)
    if balance < points:
        raise NotEnoughPoints(
            _("Not enough points: you have {balance}, this needs {points}.").format(
                balance=balance, points=points
            ),
            field="points",
        )
    entry = PointEntry(
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        participant_id=participant_id,
        kind="spend",
        delta=-points,
        reason=reason[:200],
        key=key,
        created_at=now,
    )
    if not _insert_entry(session, entry):
        return False
    record_event(
        session,
        kind=EventKind.POINTS_SPENT,
        occurred_at=now,
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        actor_type=ActorType.PARTICIPANT,
        actor_id=participant_id,
        properties={"points": points, "reason": reason[:200], "key": key},
    )
    return True


def expire_points(
    session: Session, *, workspace_id: int, participant_id: int, now: datetime
) -> int:
    """Expire what is left of this participant's expired credits; returns the points expired."""
    _wallet(session, workspace_id=workspace_id, participant_id=participant_id, now=now)
    entries = _entries(session, workspace_id=workspace_id, participant_id=participant_id)
    return _expire_lots(
        session,
        workspace_id=workspace_id,
        participant_id=participant_id,
        entries=entries,
        now=now,
    )


def participants_with_expired_credit(
    session: Session, *, now: datetime, since: datetime | None = None
) -> list[tuple[int, int]]:
    """(workspace_id, participant_id) of everyone holding a credit that expired in (since, now]
    that no expiry entry names yet (some may turn out fully spent)."""
    expiry = aliased(PointEntry)
    named = select(expiry.lot_id).where(expiry.kind == "expiry", expiry.lot_id.is_not(None))
    query = select(PointEntry.workspace_id, PointEntry.participant_id).where(
        PointEntry.delta > 0,
        PointEntry.expires_at.is_not(None),
        PointEntry.expires_at <= now,
        PointEntry.id.not_in(named),
    )
    if since is not None:
        query = query.where(PointEntry.expires_at > since)
    rows = session.execute(query.distinct()).all()
    return [(int(w), int(p)) for w, p in rows]


EXPIRY_CURSOR = "points_expiry"


def expiry_watermark(session: Session) -> datetime | None:
    """Up to when credits have been expired by the job (None before its first run)."""
    row = session.get(Cursor, EXPIRY_CURSOR)
    return None if row is None else row.updated_at


def set_expiry_watermark(session: Session, *, now: datetime) -> None:
    row = session.get(Cursor, EXPIRY_CURSOR, with_for_update=True)
    if row is None:
        session.add(Cursor(name=EXPIRY_CURSOR, last_event_id=0, updated_at=now))
    elif row.updated_at < now:
        row.updated_at = now
