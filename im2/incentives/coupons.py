"""Coupons: pools, their codes (generated, imported), handing codes out, and a participant's codes.

Generated codes are 12 characters from an alphabet without look-alikes plus one Luhn mod N
check character, so a mistyped code is told apart from an unknown one before any lookup. A
code is handed out once: concurrent issuers skip each other's locked rows (PostgreSQL) and a
conditional UPDATE takes it. Redeeming a code at a shop is `redemptions.py`.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from stdnum import luhn

from im2.errors import Conflict, IM2Error, InvalidInput
from im2.i18n import _
from im2.incentives._common import check_own_campaign
from im2.incentives.models import CouponCode, CouponPool
from im2.incentives.schemas import CouponRef, CouponStatus, PoolRef
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import owned_row, record_audit, require

# Generated codes: 12 random characters from an alphabet without look-alikes (0/O, 1/I/L), then
# one Luhn mod N check character (python-stdnum), so a mistyped character is recognised as a
# typo before any lookup. 31^12 ≈ 7.9e17 codes: walking the space is hopeless.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


CODE_BODY = 12


CODE_LENGTH = CODE_BODY + 1


class CodeTypo(IM2Error):
    status_code = 422
    code = "code_typo"


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


def issue_code(
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


def own_pool(session: Session, *, actor: Actor, pool_id: int) -> CouponPool:
    pool = owned_row(
        session, CouponPool, pool_id, actor=actor, missing=_("There is no such coupon pool.")
    )
    return pool


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
    check_own_campaign(session, actor=actor, campaign_id=campaign_id)
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
        actor,
        "coupon_pool.created",
        ("coupon_pool", pool.id),
        f"coupon pool {name}",
        now=now,
        after={"name": name, "max_uses": max_uses, "cost_points": cost_points},
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
    pool = own_pool(session, actor=actor, pool_id=pool_id)
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
        actor,
        "coupon_codes.generated",
        ("coupon_pool", pool.id),
        f"{count} codes generated for {pool.name}",
        now=now,
        after={"count": count},
    )
    return _pool_ref(session, pool).total


def do_import_codes(
    session: Session, *, actor: Actor, pool_id: int, codes: list[str], now: datetime
) -> int:
    """Add a brand's own list of codes (a shop's codes); all or nothing. Returns the new total."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    pool = own_pool(session, actor=actor, pool_id=pool_id)
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
        actor,
        "coupon_codes.imported",
        ("coupon_pool", pool.id),
        f"{len(cleaned)} codes imported into {pool.name}",
        now=now,
        after={"count": len(cleaned)},
    )
    return _pool_ref(session, pool).total


def list_codes(
    session: Session, *, actor: Actor, pool_id: int, now: datetime
) -> list[tuple[CouponRef, datetime | None]]:
    """Every code of the pool with its issue time, for the CSV export."""
    require(actor, Permission.READ_CAMPAIGNS)
    pool = own_pool(session, actor=actor, pool_id=pool_id)
    rows = session.scalars(
        select(CouponCode).where(CouponCode.pool_id == pool.id).order_by(CouponCode.id)
    )
    return [(_coupon_ref(r, now), r.issued_at) for r in rows]


def typo_error() -> CodeTypo:
    return CodeTypo(
        _("This code has a typo: its check character does not match. Check each character."),
        field="code",
    )


def participant_coupons(
    session: Session, *, workspace_id: int, campaign_id: int, participant_id: int, now: datetime
) -> list[tuple[CouponRef, str]]:
    """The participant's codes in this campaign with the pool's name, newest first."""
    rows = session.execute(
        select(CouponCode, CouponPool.name)
        .join(CouponPool, CouponPool.id == CouponCode.pool_id)
        .where(
            CouponCode.workspace_id == workspace_id,
            CouponCode.campaign_id == campaign_id,
            CouponCode.participant_id == participant_id,
        )
        .order_by(CouponCode.issued_at.desc(), CouponCode.id.desc())
    ).all()
    return [(_coupon_ref(code, now), name) for code, name in rows]
