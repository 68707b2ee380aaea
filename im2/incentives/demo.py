"""Demo content: point rules, a coupon pool, prizes and real ledger history for the live demo
campaign, made through the same services a brand and its participants use.

The campaign's third prize, the sakura thermos, is made by the lucky-draw demo (it runs first):
its instant draw gives it from the stock the points store sells here (a shared prize)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from im2.incentives import service
from im2.incentives.schemas import PoolRef, PrizeRef, RewardKind, RewardSpec
from im2.participation import service as participation
from im2.workspaces.schemas import Actor


def load_incentives_demo(
    session: Session, *, actor: Actor, campaign_ids: dict[str, int], now: datetime
) -> None:
    campaign_id = campaign_ids["feedback_live"]
    ws = actor.workspace_id
    set_up = now - timedelta(days=5)
    _save_rules(session, actor=actor, campaign_id=campaign_id, now=set_up)
    half, shop, bag = _pools_and_prizes(
        session, actor=actor, campaign_id=campaign_id, set_up=set_up, now=now
    )

    # The rules award points for what the demo participants already did (votes, draws, …).
    while service.apply_rules(session, now=now).events_seen == service.RULES_BATCH:
        pass

    people = [
        p.id
        for i in range(40)
        if (p := participation.get_participant(session, workspace_id=ws, device_id=f"demo{i:028d}"))
        is not None
    ]
    _welcome(session, workspace_id=ws, campaign_id=campaign_id, people=people, shop=shop, now=now)
    _purchases(
        session,
        workspace_id=ws,
        campaign_id=campaign_id,
        people=people,
        half=half,
        bag=bag,
        now=now,
    )
    _buy_thermos(session, workspace_id=ws, campaign_id=campaign_id, people=people, now=now)
    if people:
        _held_and_redeemed(session, actor=actor, campaign_id=campaign_id, people=people, now=now)


def _save_rules(session: Session, *, actor: Actor, campaign_id: int, now: datetime) -> None:
    for kind, points, daily, expires in (
        ("vote.cast", 10, 3, 90),
        ("checkin.done", 5, 1, 90),
        ("checkin.milestone", 30, None, 90),
        ("draw.entered", 2, 1, None),
        ("share.clicked", 2, 10, None),
        ("referral.qualified", 50, None, None),
        ("ugc.submitted", 20, 2, None),
    ):
        service.do_save_rule(
            session,
            actor=actor,
            campaign_id=campaign_id,
            event_kind=kind,
            points=points,
            daily_cap=daily,
            expires_days=expires,
            now=now,
        )


def _pools_and_prizes(
    session: Session, *, actor: Actor, campaign_id: int, set_up: datetime, now: datetime
) -> tuple[PoolRef, PoolRef, PrizeRef]:
    """Made at `set_up`: the half-price coupon (sold for points), the shop's own codes and the
    canvas bag (sold for points); also the free-coffee prize, given by hand."""
    half = service.do_create_pool(
        session,
        actor=actor,
        campaign_id=campaign_id,
        name="第二杯半价券",
        description="任一门店购买第二杯饮品享半价,不与其他优惠同享。",
        expires_at=now + timedelta(days=30),
        cost_points=30,
        now=set_up,
    )
    service.do_generate_codes(session, actor=actor, pool_id=half.id, count=200, now=set_up)
    shop = service.do_create_pool(
        session,
        actor=actor,
        campaign_id=campaign_id,
        name="天猫旗舰店满100减20",
        description="在天猫旗舰店结算时输入券码。",
        max_uses=1,
        expires_at=now + timedelta(days=60),
        now=set_up,
    )
    service.do_import_codes(
        session,
        actor=actor,
        pool_id=shop.id,
        codes=[f"TMALL2026SAKURA{i:03d}" for i in range(1, 41)],
        now=set_up,
    )
    bag = service.do_create_prize(
        session,
        actor=actor,
        campaign_id=campaign_id,
        name="樱花限定帆布袋",
        description="限量 30 个,门店领取。",
        units=30,
        cost_points=60,
        now=set_up,
    )
    service.do_create_prize(
        session,
        actor=actor,
        campaign_id=campaign_id,
        name="全年免费咖啡卡",
        description="邀请好友最多的参与者获得。",
        units=1,
        now=set_up,
    )
    return half, shop, bag


def _welcome(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    people: list[int],
    shop: PoolRef,
    now: datetime,
) -> None:
    for n, pid in enumerate(people[:12]):
        when = now - timedelta(days=3, hours=n)
        service.grant_reward(
            session,
            workspace_id=workspace_id,
            campaign_id=campaign_id,
            participant_id=pid,
            reward=RewardSpec(kind=RewardKind.COUPON, pool_id=shop.id),
            key=f"demo:welcome-coupon:{pid}",
            reason="新会员欢迎券",
            now=when,
        )
        service.grant_reward(
            session,
            workspace_id=workspace_id,
            campaign_id=campaign_id,
            participant_id=pid,
            reward=RewardSpec(kind=RewardKind.POINTS, points=40),
            key=f"demo:welcome-points:{pid}",
            reason="新会员欢迎积分",
            now=when,
        )


def _purchases(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    people: list[int],
    half: PoolRef,
    bag: PrizeRef,
    now: datetime,
) -> None:
    for n, pid in enumerate(people[:6]):
        item, item_id = ("prize", bag.id) if n % 3 == 0 else ("coupon", half.id)
        try:
            service.do_buy(
                session,
                workspace_id=workspace_id,
                campaign_id=campaign_id,
                participant_id=pid,
                item=item,
                item_id=item_id,
                key=f"demo:buy:{pid}",
                now=now - timedelta(days=1, hours=n),
            )
        except service.NotEnoughPoints:
            continue


def _buy_thermos(
    session: Session, *, workspace_id: int, campaign_id: int, people: list[int], now: datetime
) -> None:
    """Someone with enough points buys the thermos the lucky draw also gives: one stock for
    both."""
    thermos = next(
        (
            p
            for p in service.list_prizes(
                session, workspace_id=workspace_id, campaign_id=campaign_id
            )
            if p.name == "樱花限定保温杯" and p.cost_points is not None and p.stock > 0
        ),
        None,
    )
    rich = [
        pid
        for pid in people
        if thermos is not None
        and thermos.cost_points is not None
        and service.get_balance(
            session, workspace_id=workspace_id, participant_id=pid, now=now
        ).points
        >= thermos.cost_points
    ]
    if thermos is not None and rich:
        service.do_buy(
            session,
            workspace_id=workspace_id,
            campaign_id=campaign_id,
            participant_id=rich[0],
            item="prize",
            item_id=thermos.id,
            key=f"demo:buy-thermos:{rich[0]}",
            now=now - timedelta(hours=8),
        )


def _held_and_redeemed(
    session: Session, *, actor: Actor, campaign_id: int, people: list[int], now: datetime
) -> None:
    """Suspicious rewards waiting in the review queue, with their evidence; one coupon used."""
    for pid, evidence in (
        (people[-1], {"signal": "same_device_as_inviter", "device": "demo…0007"}),
        (people[-2], {"signal": "burst", "sign_ups_from_ip_in_10_min": 14}),
    ):
        service.grant_reward(
            session,
            workspace_id=actor.workspace_id,
            campaign_id=campaign_id,
            participant_id=pid,
            reward=RewardSpec(kind=RewardKind.POINTS, points=50),
            key=f"demo:held:{pid}",
            reason="referral.qualified",
            now=now - timedelta(hours=5),
            evidence=evidence,
            hold=True,
        )
    first_coupon = service.participant_coupons(
        session,
        workspace_id=actor.workspace_id,
        campaign_id=campaign_id,
        participant_id=people[0],
        now=now,
    )
    if first_coupon:
        service.do_redeem(
            session,
            actor=actor,
            code=first_coupon[0][0].code,
            order_id="TM20260301-0001",
            store="天猫旗舰店",
            ip=None,
            now=now - timedelta(hours=20),
        )
