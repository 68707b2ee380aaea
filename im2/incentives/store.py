"""The points store: coupons and prizes a campaign sells for points.

A purchase spends the points and grants the item in the caller's transaction, once per key:
not enough points or nothing left raises, and the transaction rolls back with no points spent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.errors import InvalidInput, NotFound
from im2.i18n import _
from im2.incentives.coupons import list_pools
from im2.incentives.grants import OutOfStock, grant_code, grant_once
from im2.incentives.ledger import spend_points
from im2.incentives.models import CouponPool, Prize, RewardGrant
from im2.incentives.prizes import list_prizes
from im2.incentives.schemas import GrantResult, PoolRef, PrizeRef, RewardKind, RewardSpec


def store_items(
    session: Session, *, workspace_id: int, campaign_id: int
) -> tuple[list[PoolRef], list[PrizeRef]]:
    """What can be bought with points in this campaign."""
    pools = [
        p
        for p in list_pools(session, workspace_id=workspace_id, campaign_id=campaign_id)
        if p.cost_points is not None
    ]
    prizes = [
        p
        for p in list_prizes(session, workspace_id=workspace_id, campaign_id=campaign_id)
        if p.cost_points is not None
    ]
    return pools, prizes


def do_buy(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    participant_id: int,
    item: str,
    item_id: int,
    key: str,
    now: datetime,
) -> GrantResult:
    """Spend points on a coupon (`item="coupon"`) or a prize (`item="prize"`), once per key.
    Not enough points → NotEnoughPoints (409); nothing left → OutOfStock (409); in both cases
    the caller's transaction rolls back and no points are spent."""
    if item == "coupon":
        pool = session.get(CouponPool, item_id)
        if pool is None or pool.campaign_id != campaign_id or pool.cost_points is None:
            raise NotFound(_("This item is not in the store."), field="item")
        price, name = pool.cost_points, pool.name
        reward = RewardSpec(kind=RewardKind.COUPON, pool_id=pool.id)
    elif item == "prize":
        prize = session.get(Prize, item_id)
        if prize is None or prize.campaign_id != campaign_id or prize.cost_points is None:
            raise NotFound(_("This item is not in the store."), field="item")
        price, name = prize.cost_points, prize.name
        reward = RewardSpec(kind=RewardKind.PRIZE, prize_id=prize.id)
    else:
        raise InvalidInput(_("Choose a coupon or a prize."), field="item")
    grant_key = f"store:{key}"
    earlier = session.scalar(
        select(RewardGrant).where(
            RewardGrant.workspace_id == workspace_id, RewardGrant.key == grant_key
        )
    )
    if earlier is not None:
        return GrantResult("duplicate", earlier.id, grant_code(session, earlier))
    spent = spend_points(
        session,
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        participant_id=participant_id,
        points=price,
        key=f"spend:{grant_key}",
        reason=name,
        now=now,
    )
    if not spent:  # the same purchase committed by a concurrent request
        again = session.scalar(
            select(RewardGrant).where(
                RewardGrant.workspace_id == workspace_id, RewardGrant.key == grant_key
            )
        )
        return GrantResult("duplicate", again.id if again else None, None)
    result = grant_once(
        session,
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        participant_id=participant_id,
        reward=reward,
        key=grant_key,
        reason=name,
        now=now,
        evidence={"store": True, "points": price},
        hold=False,
        screen=False,
    )
    if result.status == "out_of_stock":
        raise OutOfStock(_("Sorry, {name} is out of stock.").format(name=name), field="item")
    return result
