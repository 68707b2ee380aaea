"""Demo content for group-buys: a three-person offer in the live campaign with a team that
filled, one still filling, and one that ran out of time."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from im2.activities.formats.demos import demo_rules
from im2.activities.formats.groupbuy import service
from im2.activities.formats.groupbuy.schemas import GroupbuyCreate
from im2.campaigns import service as campaigns
from im2.participation.schemas import Visitor
from im2.workspaces.schemas import Actor


def _visitor(number: int) -> Visitor:
    return Visitor(
        device_id=f"demo{number:028d}",
        ip=f"10.30.0.{number % 250 + 1}",
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) MicroMessenger",
        channel="wechat",
    )


def load_demo(
    session: Session, *, actor: Actor, campaign_ids: dict[str, int], now: datetime
) -> None:
    live_id = campaign_ids["feedback_live"]
    offer = service.do_create_groupbuy(
        session,
        actor=actor,
        campaign_id=live_id,
        data=GroupbuyCreate(
            title="三人拼团：樱花季双杯礼盒",
            description="三人成团立享拼团价，24 小时内未成团自动取消，不扣款。",
            product="樱花季双杯礼盒（樱花拿铁 + 马克杯）",
            price=Decimal("59.00"),
            original_price=Decimal("98.00"),
            team_size=3,
            hours=24,
        ),
        now=now - timedelta(days=3),
    )
    slug = campaigns.get_campaign(session, actor=actor, campaign_id=live_id).slug

    def open_team(leader: int, at: datetime) -> str:
        return service.do_open_team(
            session,
            slug=slug,
            activity_id=offer.id,
            visitor=_visitor(leader),
            **demo_rules(12.0),
            now=at,
        ).code

    def join(code: str, member: int, at: datetime) -> None:
        service.do_join_team(
            session,
            slug=slug,
            activity_id=offer.id,
            code=code,
            visitor=_visitor(member),
            **demo_rules(12.0),
            now=at,
        )

    # Filled within an afternoon two days ago.
    full = open_team(12, now - timedelta(days=2, hours=6))
    join(full, 45, now - timedelta(days=2, hours=5))
    join(full, 78, now - timedelta(days=2, hours=2))
    # Opened yesterday, one friend short when the 24 hours ran out.
    failed = open_team(101, now - timedelta(days=1, hours=30))
    join(failed, 133, now - timedelta(days=1, hours=20))
    service.expire_teams(session, now=now - timedelta(hours=1), activity_id=offer.id)
    # Filling now: two of three, the link is out.
    filling = open_team(150, now - timedelta(hours=3))
    join(filling, 151, now - timedelta(hours=1))
