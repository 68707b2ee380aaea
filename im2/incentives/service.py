"""Points, reward grants, coupons, prizes and the points store.

Callers own the transaction; nothing here commits. What must hold under concurrency is held by
the database: unique keys make every grant and ledger entry idempotent, `uses <= max_uses` and
`stock >= 0` are CHECK constraints behind conditional UPDATEs, and a participant's spends are
serialized by locking their wallet row (PostgreSQL `FOR UPDATE`; SQLite write transactions are
serialized by `Database.transaction()` already).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from disposable_email_domains import blocklist
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from stdnum import luhn

from im2.campaigns import service as campaigns
from im2.db import Base
from im2.errors import Conflict, IM2Error, InvalidInput, NotFound
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.incentives.models import (
    CouponCode,
    CouponPool,
    PointEntry,
    Prize,
    PrizeClaim,
    RewardGrant,
    Wallet,
)
from im2.incentives.schemas import (
    Balance,
    CouponRef,
    CouponStatus,
    GrantResult,
    LedgerLine,
    PoolRef,
    PrizeRef,
    RewardKind,
    RewardSpec,
)
from im2.participation import service as participation
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

# Generated codes: 12 random characters from an alphabet without look-alikes (0/O, 1/I/L), then
# one Luhn mod N check character (python-stdnum), so a mistyped character is recognised as a
# typo before any lookup. 31^12 ≈ 7.9e17 codes: walking the space is hopeless.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_BODY = 12
CODE_LENGTH = CODE_BODY + 1
EXPIRING_SOON = timedelta(days=7)


class CodeTypo(IM2Error):
    status_code = 422
    code = "code_typo"


class CouponExpired(IM2Error):
    status_code = 410
    code = "coupon_expired"


class CouponUsedUp(IM2Error):
    status_code = 409
    code = "coupon_used_up"


class OutOfStock(IM2Error):
    status_code = 409
    code = "out_of_stock"


class NotEnoughPoints(IM2Error):
    status_code = 409
    code = "not_enough_points"


# --- codes -------------------------------------------------------------------------------------


def generate_code() -> str:
    body = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_BODY))
    return body + luhn.calc_check_digit(body, alphabet=CODE_ALPHABET)


def normalise_code(code: str) -> str:
    """What a cashier types: any case, spaces or dashes between groups."""
    return "".join(code.split()).replace("-", "").upper()


def format_code(code: str) -> str:
    """A generated code in groups of four for reading aloud; other codes as they are."""
    if looks_generated(code):
        return "-".join(code[i : i + 4] for i in range(0, len(code), 4))
    return code


def looks_generated(code: str) -> bool:
    return len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code)


def is_typo(code: str) -> bool:
    """A code of the generated shape whose check character does not match."""
    return looks_generated(code) and not luhn.is_valid(code, alphabet=CODE_ALPHABET)


def _coupon_status(row: CouponCode, now: datetime | None) -> CouponStatus:
    if row.voided_at is not None:
        return CouponStatus.VOID
    if row.uses >= row.max_uses:
        return CouponStatus.USED
    if now is not None and row.expires_at is not None and row.expires_at <= now:
        return CouponStatus.EXPIRED
    if row.issued_at is None:
        return CouponStatus.AVAILABLE
    return CouponStatus.ISSUED


def _coupon_ref(row: CouponCode, now: datetime | None) -> CouponRef:
    return CouponRef(
        code=row.code,
        pool_id=row.pool_id,
        campaign_id=row.campaign_id,
        participant_id=row.participant_id,
        status=_coupon_status(row, now),
        uses=row.uses,
        max_uses=row.max_uses,
        expires_at=row.expires_at,
    )


def find_coupon(
    session: Session, *, workspace_id: int, code: str, now: datetime | None = None
) -> CouponRef | None:
    """The code in this workspace (typed any way a person types it), or None. With `now`, an
    expired code reports status `expired`."""
    row = session.scalar(
        select(CouponCode).where(
            CouponCode.workspace_id == workspace_id, CouponCode.code == normalise_code(code)
        )
    )
    return None if row is None else _coupon_ref(row, now)


# --- pools and prizes (reads for other domains' editors) ---------------------------------------


def _pool_ref(session: Session, pool: CouponPool) -> PoolRef:
    total, issued, redeemed = session.execute(
        select(
            func.count(),
            func.count(CouponCode.issued_at),
            func.coalesce(func.sum(CouponCode.uses), 0),
        ).where(CouponCode.pool_id == pool.id)
    ).one()
    return PoolRef(
        id=pool.id,
        campaign_id=pool.campaign_id,
        name=pool.name,
        description=pool.description,
        source=pool.source,
        max_uses=pool.max_uses,
        expires_at=pool.expires_at,
        cost_points=pool.cost_points,
        total=int(total),
        issued=int(issued),
        redeemed=int(redeemed),
    )


def list_pools(
    session: Session, *, workspace_id: int, campaign_id: int | None = None
) -> list[PoolRef]:
    query = select(CouponPool).where(CouponPool.workspace_id == workspace_id)
    if campaign_id is not None:
        query = query.where(CouponPool.campaign_id == campaign_id)
    return [_pool_ref(session, p) for p in session.scalars(query.order_by(CouponPool.id))]


def get_pool(session: Session, *, workspace_id: int, pool_id: int) -> PoolRef | None:
    pool = session.get(CouponPool, pool_id)
    if pool is None or pool.workspace_id != workspace_id:
        return None
    return _pool_ref(session, pool)


def _prize_ref(row: Prize) -> PrizeRef:
    return PrizeRef(
        id=row.id,
        campaign_id=row.campaign_id,
        name=row.name,
        description=row.description,
        units=row.units,
        stock=row.stock,
        cost_points=row.cost_points,
    )


def list_prizes(
    session: Session, *, workspace_id: int, campaign_id: int | None = None
) -> list[PrizeRef]:
    query = select(Prize).where(Prize.workspace_id == workspace_id)
    if campaign_id is not None:
        query = query.where(Prize.campaign_id == campaign_id)
    return [_prize_ref(p) for p in session.scalars(query.order_by(Prize.id))]


def get_prize(session: Session, *, workspace_id: int, prize_id: int) -> PrizeRef | None:
    row = session.get(Prize, prize_id)
    return None if row is None or row.workspace_id != workspace_id else _prize_ref(row)


# --- the points ledger -------------------------------------------------------------------------


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
    return [_line(r) for r in session.scalars(query.order_by(PointEntry.id.desc()).limit(limit))]


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
) -> bool:
    """Credit points once per key; False (and nothing written) when the key was used before."""
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
        },
    )
    return True


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


def participants_with_expired_credit(session: Session, *, now: datetime) -> list[tuple[int, int]]:
    """(workspace_id, participant_id) of everyone holding a credit past its expiry that no
    expiry entry names yet (some may turn out fully spent)."""
    expired_lots = select(PointEntry.lot_id).where(PointEntry.kind == "expiry")
    rows = session.execute(
        select(PointEntry.workspace_id, PointEntry.participant_id)
        .where(
            PointEntry.delta > 0,
            PointEntry.expires_at.is_not(None),
            PointEntry.expires_at <= now,
            PointEntry.id.not_in(expired_lots.where(PointEntry.lot_id.is_not(None))),
        )
        .distinct()
    ).all()
    return [(int(w), int(p)) for w, p in rows]


# --- coupons -----------------------------------------------------------------------------------


def _issue_code(
    session: Session, *, pool: CouponPool, participant_id: int, now: datetime
) -> CouponCode | None:
    """Hand one free code of the pool to the participant; None when none is left. Concurrent
    issuers skip each other's locked rows (PostgreSQL) and the conditional UPDATE makes sure a
    code is handed out once."""
    for _attempt in range(20):
        code_id = session.scalar(
            select(CouponCode.id)
            .where(
                CouponCode.pool_id == pool.id,
                CouponCode.issued_at.is_(None),
                CouponCode.voided_at.is_(None),
            )
            .order_by(CouponCode.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if code_id is None:
            return None
        done = session.execute(
            update(CouponCode)
            .where(CouponCode.id == code_id, CouponCode.issued_at.is_(None))
            .values(participant_id=participant_id, issued_at=now)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount == 1:  # type: ignore[attr-defined]
            row = session.get(CouponCode, code_id)
            assert row is not None
            session.refresh(row)
            return row
    return None


def _claim_prize(
    session: Session, *, prize: Prize, participant_id: int, grant_id: int | None, now: datetime
) -> PrizeClaim | None:
    done = session.execute(
        update(Prize)
        .where(Prize.id == prize.id, Prize.stock > 0)
        .values(stock=Prize.stock - 1)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return None
    claim = PrizeClaim(
        workspace_id=prize.workspace_id,
        campaign_id=prize.campaign_id,
        prize_id=prize.id,
        participant_id=participant_id,
        grant_id=grant_id,
        created_at=now,
    )
    session.add(claim)
    session.flush()
    session.refresh(prize)
    return claim


# --- grants ------------------------------------------------------------------------------------


def _disposable_domain(session: Session, participant_id: int) -> str | None:
    profile = participation.get_profile(session, participant_id=participant_id)
    if not profile.verified_email or "@" not in profile.verified_email:
        return None
    domain = profile.verified_email.rsplit("@", 1)[1].lower()
    return domain if domain in blocklist else None


def check_participant(session: Session, *, workspace_id: int, participant_id: int) -> None:
    """404 unless the participant exists in this workspace."""
    participants = Base.metadata.tables["participants"]
    found = session.scalar(
        select(participants.c.id).where(
            participants.c.id == participant_id, participants.c.workspace_id == workspace_id
        )
    )
    if found is None:
        raise NotFound(_("Participant not found."), field="participant_id")


def _check_target(session: Session, *, workspace_id: int, reward: RewardSpec) -> None:
    if reward.kind is RewardKind.COUPON:
        pool = session.get(CouponPool, reward.pool_id)
        if pool is None or pool.workspace_id != workspace_id:
            raise NotFound(_("There is no such coupon pool."), field="pool_id")
    if reward.kind is RewardKind.PRIZE:
        prize = session.get(Prize, reward.prize_id)
        if prize is None or prize.workspace_id != workspace_id:
            raise NotFound(_("There is no such prize."), field="prize_id")


def _give(session: Session, grant: RewardGrant, *, now: datetime) -> CouponCode | bool:
    """Hand over what the grant promises. False when a coupon pool or a prize ran out."""
    if grant.kind == RewardKind.POINTS:
        assert grant.points is not None
        award_points(
            session,
            workspace_id=grant.workspace_id,
            campaign_id=grant.campaign_id,
            participant_id=grant.participant_id,
            points=grant.points,
            key=f"grant:{grant.id}",
            reason=grant.reason,
            now=now,
            grant_id=grant.id,
        )
        return True
    if grant.kind == RewardKind.COUPON:
        pool = session.get(CouponPool, grant.pool_id)
        if pool is None:
            return False
        code = _issue_code(session, pool=pool, participant_id=grant.participant_id, now=now)
        if code is None:
            return False
        grant.coupon_id = code.id
        record_event(
            session,
            kind=EventKind.COUPON_ISSUED,
            occurred_at=now,
            workspace_id=grant.workspace_id,
            campaign_id=grant.campaign_id,
            actor_type=ActorType.SYSTEM,
            actor_id=None,
            properties={
                "participant": grant.participant_id,
                "pool": pool.id,
                "code": code.code,
                "reason": grant.reason,
                "grant": grant.id,
            },
        )
        return code
    prize = session.get(Prize, grant.prize_id)
    if prize is None:
        return False
    claim = _claim_prize(
        session, prize=prize, participant_id=grant.participant_id, grant_id=grant.id, now=now
    )
    if claim is None:
        return False
    record_event(
        session,
        kind=EventKind.PRIZE_CLAIMED,
        occurred_at=now,
        workspace_id=grant.workspace_id,
        campaign_id=grant.campaign_id,
        actor_type=ActorType.SYSTEM,
        actor_id=None,
        properties={
            "participant": grant.participant_id,
            "prize": prize.id,
            "name": prize.name,
            "stock_left": prize.stock,
            "reason": grant.reason,
            "grant": grant.id,
        },
    )
    return True


def grant_reward(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    participant_id: int,
    reward: RewardSpec,
    key: str,
    reason: str,
    now: datetime,
    evidence: dict[str, Any] | None = None,
    hold: bool = False,
) -> GrantResult:
    """Give a reward once per (workspace, key).

    - a second call with the same key returns `duplicate` and writes nothing;
    - `hold=True` (or a participant whose verified e-mail is at a disposable domain) keeps the
      grant for review in the console, with `evidence` shown; approving gives the reward;
    - a coupon pool or prize with nothing left gives `out_of_stock` and writes nothing, so the
      same key can be granted again once the stock is topped up.
    """
    if not key or len(key) > 200:
        raise InvalidInput(_("A reward key must be 1–200 characters."), field="key")
    _check_target(session, workspace_id=workspace_id, reward=reward)
    existing = session.scalar(
        select(RewardGrant.id).where(
            RewardGrant.workspace_id == workspace_id, RewardGrant.key == key
        )
    )
    if existing is not None:
        return GrantResult(status="duplicate", grant_id=existing, coupon_code=None)
    shown = dict(evidence or {})
    disposable = _disposable_domain(session, participant_id)
    if disposable is not None:
        shown["disposable_email_domain"] = disposable
        hold = True
    grant = RewardGrant(
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        participant_id=participant_id,
        key=key,
        kind=reward.kind.value,
        points=reward.points,
        pool_id=reward.pool_id,
        prize_id=reward.prize_id,
        reason=reason[:200],
        status="held" if hold else "granted",
        evidence=shown,
        created_at=now,
    )
    savepoint = session.begin_nested()
    try:
        session.add(grant)
        session.flush()
    except IntegrityError:
        savepoint.rollback()
        again = session.scalar(
            select(RewardGrant.id).where(
                RewardGrant.workspace_id == workspace_id, RewardGrant.key == key
            )
        )
        return GrantResult(status="duplicate", grant_id=again, coupon_code=None)
    if hold:
        savepoint.commit()
        record_event(
            session,
            kind=EventKind.REWARD_HELD,
            occurred_at=now,
            workspace_id=workspace_id,
            campaign_id=campaign_id,
            actor_type=ActorType.SYSTEM,
            actor_id=None,
            properties={
                "participant": participant_id,
                "grant": grant.id,
                "reward": reward.model_dump(exclude_none=True, mode="json"),
                "reason": reason[:200],
                "evidence": shown,
            },
        )
        return GrantResult(status="held", grant_id=grant.id, coupon_code=None)
    given = _give(session, grant, now=now)
    if given is False:
        savepoint.rollback()
        return GrantResult(status="out_of_stock", grant_id=None, coupon_code=None)
    savepoint.commit()
    return GrantResult(
        status="granted",
        grant_id=grant.id,
        coupon_code=given.code if isinstance(given, CouponCode) else None,
    )


def check_reward_spec(data: dict[str, Any]) -> RewardSpec:
    """A RewardSpec from form or JSON data, or InvalidInput naming what is wrong."""
    try:
        return RewardSpec.model_validate(data)
    except ValueError as exc:
        raise InvalidInput(_("This reward is not complete: {detail}").format(detail=exc)) from exc


# --- the brand's side: pools, codes, prizes ----------------------------------------------------


def _campaign_in_workspace(session: Session, *, actor: Actor, campaign_id: int) -> None:
    campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)  # 404 if not theirs


def _pool_row(session: Session, *, actor: Actor, pool_id: int) -> CouponPool:
    pool = session.get(CouponPool, pool_id)
    if pool is None or pool.workspace_id != actor.workspace_id:
        raise NotFound(_("There is no such coupon pool."))
    return pool


def _prize_row(session: Session, *, actor: Actor, prize_id: int) -> Prize:
    prize = session.get(Prize, prize_id)
    if prize is None or prize.workspace_id != actor.workspace_id:
        raise NotFound(_("There is no such prize."))
    return prize


def do_create_pool(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int,
    name: str,
    description: str = "",
    max_uses: int = 1,
    expires_at: datetime | None = None,
    cost_points: int | None = None,
    now: datetime,
) -> PoolRef:
    require(actor, Permission.WRITE_CAMPAIGNS)
    _campaign_in_workspace(session, actor=actor, campaign_id=campaign_id)
    name = " ".join(name.split())
    if not name or len(name) > 80:
        raise InvalidInput(_("A name of 1–80 characters is required."), field="name")
    if max_uses < 1:
        raise InvalidInput(_("A code must be usable at least once."), field="max_uses")
    if cost_points is not None and cost_points <= 0:
        raise InvalidInput(_("A price in points must be above zero."), field="cost_points")
    if expires_at is not None and expires_at <= now:
        raise InvalidInput(_("The expiry must be in the future."), field="expires_at")
    taken = session.scalar(
        select(CouponPool.id).where(CouponPool.campaign_id == campaign_id, CouponPool.name == name)
    )
    if taken is not None:
        raise Conflict(_("This campaign already has a coupon pool of this name."), field="name")
    pool = CouponPool(
        workspace_id=actor.workspace_id,
        campaign_id=campaign_id,
        name=name,
        description=description.strip()[:300],
        source="generated",
        max_uses=max_uses,
        expires_at=expires_at,
        cost_points=cost_points,
        created_at=now,
    )
    session.add(pool)
    session.flush()
    record_audit(
        session,
        actor=actor,
        workspace_id=actor.workspace_id,
        action="coupon_pool.created",
        target_type="coupon_pool",
        target_id=pool.id,
        summary=f"coupon pool {name}",
        before=None,
        after={"name": name, "max_uses": max_uses, "cost_points": cost_points},
        now=now,
    )
    return _pool_ref(session, pool)


MAX_CODES_PER_CALL = 100_000


def _add_codes(session: Session, pool: CouponPool, codes: list[str], now: datetime) -> None:
    session.execute(
        insert(CouponCode),
        [
            {
                "workspace_id": pool.workspace_id,
                "pool_id": pool.id,
                "campaign_id": pool.campaign_id,
                "code": code,
                "uses": 0,
                "max_uses": pool.max_uses,
                "expires_at": pool.expires_at,
                "created_at": now,
            }
            for code in codes
        ],
    )


def do_generate_codes(
    session: Session, *, actor: Actor, pool_id: int, count: int, now: datetime
) -> int:
    """Add `count` fresh unguessable codes to the pool; returns the pool's new total."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    pool = _pool_row(session, actor=actor, pool_id=pool_id)
    if not 1 <= count <= MAX_CODES_PER_CALL:
        raise InvalidInput(
            _("Generate between 1 and {n} codes at a time.").format(n=MAX_CODES_PER_CALL),
            field="count",
        )
    fresh: set[str] = set()
    while len(fresh) < count:
        fresh.add(generate_code())
    taken = set(
        session.scalars(
            select(CouponCode.code).where(
                CouponCode.workspace_id == pool.workspace_id, CouponCode.code.in_(list(fresh))
            )
        )
    )
    while taken:  # astronomically rare: replace the codes that exist already
        fresh -= taken
        extra = {generate_code() for _ in range(len(taken))}
        taken = set(
            session.scalars(
                select(CouponCode.code).where(
                    CouponCode.workspace_id == pool.workspace_id, CouponCode.code.in_(list(extra))
                )
            )
        )
        fresh |= extra - taken
    _add_codes(session, pool, sorted(fresh), now)
    record_audit(
        session,
        actor=actor,
        workspace_id=actor.workspace_id,
        action="coupon_codes.generated",
        target_type="coupon_pool",
        target_id=pool.id,
        summary=f"{count} codes generated for {pool.name}",
        before=None,
        after={"count": count},
        now=now,
    )
    return _pool_ref(session, pool).total


def do_import_codes(
    session: Session, *, actor: Actor, pool_id: int, codes: list[str], now: datetime
) -> int:
    """Add a brand's own list of codes (a shop's codes); all or nothing. Returns the new total."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    pool = _pool_row(session, actor=actor, pool_id=pool_id)
    cleaned = [normalise_code(c) for c in codes]
    cleaned = [c for c in cleaned if c]
    if not cleaned:
        raise InvalidInput(_("The list has no codes."), field="codes")
    if len(cleaned) > MAX_CODES_PER_CALL:
        raise InvalidInput(
            _("Import at most {n} codes at a time.").format(n=MAX_CODES_PER_CALL), field="codes"
        )
    for position, code in enumerate(cleaned, start=1):
        if len(code) > 64 or not code.isascii() or not code.isalnum():
            raise InvalidInput(
                _("Code {n} ({code}) is not 1–64 letters and digits.").format(
                    n=position, code=code[:70]
                ),
                field="codes",
            )
    seen: set[str] = set()
    repeated = [c for c in cleaned if c in seen or seen.add(c)]  # type: ignore[func-returns-value]
    if repeated:
        raise InvalidInput(
            _("The list has the same code more than once: {codes}").format(
                codes=", ".join(sorted(set(repeated))[:5])
            ),
            field="codes",
        )
    existing: list[str] = []
    for start in range(0, len(cleaned), 1000):
        existing += session.scalars(
            select(CouponCode.code).where(
                CouponCode.workspace_id == pool.workspace_id,
                CouponCode.code.in_(cleaned[start : start + 1000]),
            )
        )
    if existing:
        raise Conflict(
            _("These codes exist already in this workspace: {codes}").format(
                codes=", ".join(sorted(existing)[:5])
            ),
            field="codes",
        )
    try:
        with session.begin_nested():
            _add_codes(session, pool, cleaned, now)
    except IntegrityError as exc:  # the same codes imported concurrently
        raise Conflict(
            _("Some of these codes exist already in this workspace."), field="codes"
        ) from exc
    if pool.source != "imported":
        pool.source = "imported" if _pool_ref(session, pool).total == len(cleaned) else "mixed"
    record_audit(
        session,
        actor=actor,
        workspace_id=actor.workspace_id,
        action="coupon_codes.imported",
        target_type="coupon_pool",
        target_id=pool.id,
        summary=f"{len(cleaned)} codes imported into {pool.name}",
        before=None,
        after={"count": len(cleaned)},
        now=now,
    )
    return _pool_ref(session, pool).total


def list_codes(
    session: Session, *, actor: Actor, pool_id: int, now: datetime
) -> list[tuple[CouponRef, datetime | None]]:
    """Every code of the pool with its issue time, for the CSV export."""
    require(actor, Permission.READ_CAMPAIGNS)
    pool = _pool_row(session, actor=actor, pool_id=pool_id)
    rows = session.scalars(
        select(CouponCode).where(CouponCode.pool_id == pool.id).order_by(CouponCode.id)
    )
    return [(_coupon_ref(r, now), r.issued_at) for r in rows]


def do_issue_coupon(
    session: Session,
    *,
    actor: Actor,
    pool_id: int,
    participant_id: int,
    key: str,
    reason: str,
    now: datetime,
) -> GrantResult:
    """A brand (API or console) hands a coupon to a participant, idempotent by key."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    pool = _pool_row(session, actor=actor, pool_id=pool_id)
    check_participant(session, workspace_id=actor.workspace_id, participant_id=participant_id)
    result = grant_reward(
        session,
        workspace_id=actor.workspace_id,
        campaign_id=pool.campaign_id,
        participant_id=participant_id,
        reward=RewardSpec(kind=RewardKind.COUPON, pool_id=pool.id),
        key=f"issue:{key}",
        reason=reason,
        now=now,
    )
    if result.status == "out_of_stock":
        raise OutOfStock(_("This pool has no free codes left."), field="pool_id")
    if result.status == "granted":
        record_audit(
            session,
            actor=actor,
            workspace_id=actor.workspace_id,
            action="coupon.issued",
            target_type="coupon_pool",
            target_id=pool.id,
            summary=f"coupon of {pool.name} issued to participant #{participant_id}",
            before=None,
            after={"participant": participant_id, "key": key},
            now=now,
        )
    return result


def do_create_prize(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int,
    name: str,
    units: int,
    description: str = "",
    cost_points: int | None = None,
    now: datetime,
) -> PrizeRef:
    require(actor, Permission.WRITE_CAMPAIGNS)
    _campaign_in_workspace(session, actor=actor, campaign_id=campaign_id)
    name = " ".join(name.split())
    if not name or len(name) > 80:
        raise InvalidInput(_("A name of 1–80 characters is required."), field="name")
    if not 0 <= units <= 10_000_000:
        raise InvalidInput(_("The stock must be between 0 and 10,000,000."), field="units")
    if cost_points is not None and cost_points <= 0:
        raise InvalidInput(_("A price in points must be above zero."), field="cost_points")
    taken = session.scalar(
        select(Prize.id).where(Prize.campaign_id == campaign_id, Prize.name == name)
    )
    if taken is not None:
        raise Conflict(_("This campaign already has a prize of this name."), field="name")
    prize = Prize(
        workspace_id=actor.workspace_id,
        campaign_id=campaign_id,
        name=name,
        description=description.strip()[:300],
        units=units,
        stock=units,
        cost_points=cost_points,
        created_at=now,
    )
    session.add(prize)
    session.flush()
    record_audit(
        session,
        actor=actor,
        workspace_id=actor.workspace_id,
        action="prize.created",
        target_type="prize",
        target_id=prize.id,
        summary=f"prize {name} ({units})",
        before=None,
        after={"name": name, "units": units, "cost_points": cost_points},
        now=now,
    )
    return _prize_ref(prize)


def do_restock_prize(
    session: Session, *, actor: Actor, prize_id: int, add_units: int, now: datetime
) -> PrizeRef:
    """Add units to a prize's stock (a conditional UPDATE, safe alongside claims)."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    prize = _prize_row(session, actor=actor, prize_id=prize_id)
    if not 1 <= add_units <= 10_000_000:
        raise InvalidInput(_("Add between 1 and 10,000,000 units."), field="add_units")
    session.execute(
        update(Prize)
        .where(Prize.id == prize.id)
        .values(stock=Prize.stock + add_units, units=Prize.units + add_units)
        .execution_options(synchronize_session=False)
    )
    session.refresh(prize)
    record_audit(
        session,
        actor=actor,
        workspace_id=actor.workspace_id,
        action="prize.restocked",
        target_type="prize",
        target_id=prize.id,
        summary=f"prize {prize.name} +{add_units}",
        before=None,
        after={"stock": prize.stock, "units": prize.units},
        now=now,
    )
    return _prize_ref(prize)
