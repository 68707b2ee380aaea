"""Demo content for check-ins: a two-week morning-coffee check-in in the live campaign, with
regulars on long streaks, people who dropped out and newcomers."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from im2.activities.formats.checkin import service
from im2.activities.formats.checkin.schemas import CheckinCreate
from im2.activities.formats.demos import demo_rules
from im2.campaigns import service as campaigns
from im2.participation.schemas import Visitor
from im2.workspaces.schemas import Actor

DAYS = 14


def load_demo(
    session: Session, *, actor: Actor, campaign_ids: dict[str, int], now: datetime
) -> None:
    live_id = campaign_ids["feedback_live"]
    first = now - timedelta(days=DAYS)
    checkin = service.do_create_checkin(
        session,
        actor=actor,
        campaign_id=live_id,
        data=CheckinCreate(
            title="早安咖啡打卡：连续打卡赢好礼",
            description="每天来店或线上打卡一次，连续 3 天、7 天、14 天解锁不同奖励。",
            milestones=[3, 7, 14],
        ),
        now=first - timedelta(hours=2),
    )
    campaign = campaigns.get_campaign(session, actor=actor, campaign_id=live_id)
    slug, zone = campaign.slug, ZoneInfo(campaign.timezone)
    first_day = first.astimezone(zone).date()
    rng = random.Random(20260303)  # the same demo every time
    for person in range(60):
        # Regulars come almost every day; casual visitors now and then; some start late.
        loyalty = rng.choice((0.95, 0.9, 0.7, 0.5, 0.3))
        start = rng.randint(0, DAYS // 2)
        visitor = Visitor(
            device_id=f"demo{(person * 11) % 320:028d}",
            ip=f"10.20.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) MicroMessenger",
            channel=rng.choice(("wechat", "wechat", "xiaohongshu")),
        )
        for day in range(start, DAYS + 1):
            if rng.random() > loyalty:
                continue
            # Mornings, 07:00-10:59 in the campaign's time zone.
            morning = time(rng.randint(7, 10), rng.randint(0, 59))
            at = datetime.combine(first_day + timedelta(days=day), morning, tzinfo=zone)
            if at > now:
                continue
            service.do_check_in(
                session,
                slug=slug,
                activity_id=checkin.id,
                visitor=visitor,
                **demo_rules(rng.uniform(2, 15)),
                now=at,
            )
