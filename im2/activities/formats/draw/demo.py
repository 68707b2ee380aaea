"""Demo content for lucky draws: a live instant-win draw that has been running for a few days,
and a scheduled draw for the charity campaign.

The instant draw's top prize, the sakura thermos, is one of the campaign's prizes (incentives):
the draw and the points store take from the same stock, so the thermoses won here are missing
from the store and show on the winners' "my rewards" pages."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from im2.activities.formats.demos import demo_rules
from im2.activities.formats.draw import service
from im2.activities.formats.draw.schemas import DrawCreate, DrawMode, PrizeIn
from im2.campaigns import service as campaigns
from im2.incentives import service as incentives
from im2.participation.schemas import Visitor
from im2.workspaces.schemas import Actor

CHANNELS = ("wechat", "wechat", "wechat", "xiaohongshu", "weibo", "email")


def load_demo(
    session: Session, *, actor: Actor, campaign_ids: dict[str, int], now: datetime
) -> None:
    live_id = campaign_ids["feedback_live"]
    started = now - timedelta(days=4)
    thermos = incentives.do_create_prize(
        session,
        actor=actor,
        campaign_id=live_id,
        name="樱花限定保温杯",
        description="限量 8 个:幸运抽奖与积分商城共用库存,门店领取。",
        units=8,
        cost_points=100,
        now=started - timedelta(hours=2),
    )
    draw = service.do_create_draw(
        session,
        actor=actor,
        campaign_id=live_id,
        data=DrawCreate(
            title="樱花季幸运抽奖：点一下，马上知道结果",
            description="每人一次机会，奖品送完即止。中奖者凭页面截图到任一门店领取。",
            mode=DrawMode.INSTANT,
            prizes=[
                PrizeIn(prize_id=thermos.id, stock=5, odds=0.03),
                PrizeIn(name="中杯饮品兑换券", stock=60, odds=0.2),
                PrizeIn(name="第二杯半价券", stock=200, odds=0.35),
            ],
        ),
        now=started - timedelta(hours=1),
    )
    slug = campaigns.get_campaign(session, actor=actor, campaign_id=live_id).slug
    rng = random.Random(20260302)  # the same demo every time (the draw's seed is its own)
    # The same devices as the poll's demo voters: people who voted also tried their luck.
    for i in range(180):
        service.do_enter(
            session,
            slug=slug,
            activity_id=draw.id,
            visitor=Visitor(
                device_id=f"demo{i * 7 % 320:028d}",
                ip=f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) MicroMessenger",
                channel=rng.choice(CHANNELS),
            ),
            **demo_rules(rng.uniform(3, 30)),
            now=started + timedelta(minutes=rng.randint(0, 4 * 24 * 60 - 30)),
        )

    service.do_create_draw(
        session,
        actor=actor,
        campaign_id=campaign_ids["charity_scheduled"],
        data=DrawCreate(
            title="公益周末抽奖：捐一杯，抽一份云南咖啡豆",
            description="活动期间参与即可入池，活动结束当晚公开抽奖，种子与中奖名单可公开验证。",
            mode=DrawMode.SCHEDULED,
            draw_at=now + timedelta(days=12),
            prizes=[PrizeIn(name="云南保山咖啡豆 500g", stock=10)],
        ),
        now=now - timedelta(days=2),
    )
