"""Redeeming a coupon code at a shop (a cashier, a till, the brand's API).

A code is used at most `max_uses` times: a CHECK constraint behind a conditional UPDATE holds
it under concurrency. The same (code, order id) again gives the first answer. A multi-use code
redeemed from several places within the hour is being passed around: its redemptions are
flagged for review (`review.py`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.errors import IM2Error, InvalidInput, NotFound
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.incentives.coupons import is_typo, normalise_code, typo_error
from im2.incentives.models import CouponCode, Redemption
from im2.incentives.schemas import RedemptionRef
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require


class CouponExpired(IM2Error):
    status_code = 410
    code = "coupon_expired"


class CouponUsedUp(IM2Error):
    status_code = 409
    code = "coupon_used_up"


# A code redeemed from this many distinct places (IP addresses or stores) within the window is
# being passed around (a coupon site, a group chat): its redemptions go to the review queue.
SHARED_CODE_PLACES = 3


SHARED_CODE_WINDOW = timedelta(hours=1)


def redemption_ref(row: Redemption, code: CouponCode) -> RedemptionRef:
    return RedemptionRef(
        id=row.id,
        code=code.code,
        campaign_id=code.campaign_id,
        order_id=row.order_id,
        store=row.store,
        ip=row.ip,
        created_at=row.created_at,
        review=row.review,
        evidence=dict(row.evidence or {}),
        uses=code.uses,
        max_uses=code.max_uses,
    )


def _find_code_for_redemption(session: Session, *, workspace_id: int, code: str) -> CouponCode:
    typed = normalise_code(code)
    if not typed:
        raise InvalidInput(_("Enter a coupon code."), field="code")
    row = session.scalar(
        select(CouponCode).where(CouponCode.workspace_id == workspace_id, CouponCode.code == typed)
    )
    if row is not None:
        return row
    if is_typo(typed):
        raise typo_error()
    raise NotFound(_("There is no such coupon code."), field="code")


def do_redeem(
    session: Session,
    *,
    actor: Actor,
    code: str,
    order_id: str | None,
    store: str | None,
    ip: str | None,
    now: datetime,
) -> RedemptionRef:
    """Use a code once at a shop. The same (code, order id) again gives the first answer. Clear
    refusals: unknown code (404), a typo (422), expired (410), used up or void (409)."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    row = _find_code_for_redemption(session, workspace_id=actor.workspace_id, code=code)
    order_id = order_id.strip() if order_id else None
    store = " ".join(store.split())[:80] if store else None
    if order_id:
        earlier = _same_order(session, row=row, order_id=order_id)
        if earlier is not None:
            return redemption_ref(earlier, row)
    _check_redeemable(row, now=now)
    redemption = Redemption(
        workspace_id=actor.workspace_id,
        code_id=row.id,
        order_id=order_id,
        store=store,
        ip=ip,
        created_at=now,
        evidence={},
    )
    added = _add_redemption(session, row=row, redemption=redemption)
    if added is not redemption:
        return redemption_ref(added, row)
    _use_once(session, row=row)
    _flag_if_shared(session, row=row, redemption=redemption, now=now)
    session.flush()
    _record_redemption(session, actor=actor, row=row, redemption=redemption, now=now)
    return redemption_ref(redemption, row)


def _same_order(session: Session, *, row: CouponCode, order_id: str | None) -> Redemption | None:
    return session.scalar(
        select(Redemption).where(Redemption.code_id == row.id, Redemption.order_id == order_id)
    )


def _check_redeemable(row: CouponCode, *, now: datetime) -> None:
    if row.voided_at is not None:
        raise CouponUsedUp(_("This code has been voided by the brand."), field="code")
    if row.issued_at is None:
        raise CouponUsedUp(_("This code has not been given to anyone yet."), field="code")
    if row.expires_at is not None and row.expires_at <= now:
        raise CouponExpired(
            _("This code expired on {date}.").format(date=row.expires_at.strftime("%Y-%m-%d")),
            field="code",
        )


def _add_redemption(session: Session, *, row: CouponCode, redemption: Redemption) -> Redemption:
    """The new redemption, added; or, when the same order was redeemed concurrently, that one
    (the answer is then the first one's)."""
    try:
        with session.begin_nested():
            session.add(redemption)
    except IntegrityError:
        earlier = _same_order(session, row=row, order_id=redemption.order_id)
        if earlier is None:
            raise
        session.refresh(row)
        return earlier
    return redemption


def _use_once(session: Session, *, row: CouponCode) -> None:
    """Count one use, never beyond `max_uses` (a conditional UPDATE, safe under concurrency)."""
    used = session.execute(
        update(CouponCode)
        .where(CouponCode.id == row.id, CouponCode.uses < CouponCode.max_uses)
        .values(uses=CouponCode.uses + 1)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise CouponUsedUp(
            _("This code has been used already ({n} of {n} uses).").format(n=row.max_uses),
            field="code",
        )
    session.refresh(row)


def _flag_if_shared(
    session: Session, *, row: CouponCode, redemption: Redemption, now: datetime
) -> None:
    """Send the redemption to review when the code is being redeemed from too many places."""
    if row.max_uses <= 1:
        return
    recent = session.execute(
        select(Redemption.ip, Redemption.store).where(
            Redemption.code_id == row.id,
            Redemption.created_at > now - SHARED_CODE_WINDOW,
        )
    ).all()
    ips = sorted({r.ip for r in recent if r.ip})
    stores = sorted({r.store for r in recent if r.store})
    if max(len(ips), len(stores)) >= SHARED_CODE_PLACES:
        redemption.review = "flagged"
        redemption.evidence = {
            "signal": "shared_code",
            "window_minutes": int(SHARED_CODE_WINDOW.total_seconds() // 60),
            "redemptions_in_window": len(recent),
            "ips": ips,
            "stores": stores,
        }


def _record_redemption(
    session: Session, *, actor: Actor, row: CouponCode, redemption: Redemption, now: datetime
) -> None:
    """The `coupon.redeemed` event, a `reward.held` one when flagged, and the audit entry."""
    flagged = redemption.review == "flagged"
    order_id, store = redemption.order_id, redemption.store
    record_event(
        session,
        kind=EventKind.COUPON_REDEEMED,
        occurred_at=now,
        workspace_id=actor.workspace_id,
        campaign_id=row.campaign_id,
        actor_type=actor.type,
        actor_id=actor.id,
        properties={
            "code": row.code,
            "pool": row.pool_id,
            "participant": row.participant_id,
            "order_id": order_id,
            "store": store,
            "uses": row.uses,
            "max_uses": row.max_uses,
            "flagged": flagged,
        },
    )
    if flagged:
        record_event(
            session,
            kind=EventKind.REWARD_HELD,
            occurred_at=now,
            workspace_id=actor.workspace_id,
            campaign_id=row.campaign_id,
            actor_type=ActorType.SYSTEM,
            actor_id=None,
            properties={"redemption": redemption.id, "code": row.code, **redemption.evidence},
        )
    record_audit(
        session,
        actor,
        "coupon.redeemed",
        ("coupon_code", row.id),
        f"code {row.code} redeemed" + (f" for order {order_id}" if order_id else ""),
        now=now,
        before={"uses": row.uses - 1},
        after={"uses": row.uses, "order_id": order_id, "store": store},
    )
