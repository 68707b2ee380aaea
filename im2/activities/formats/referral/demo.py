"""Demo content for the referral activity: "invite 3 friends, get a free drink" in the paused
referral campaign, with two weeks of invites from the share tree — friends who bought (reported
by the shop's conversion postback) and qualified, friends who have not bought yet, a second
level, two milestones reached, and one self-referral held for review."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from im2.activities.formats.referral import follow, service
from im2.activities.formats.referral.schemas import Milestone, QualifyOn, ReferralCreate, Reward
from im2.conversions import service as conversions
from im2.conversions.schemas import ConversionCreate
from im2.incentives import service as incentives
from im2.participation import service as participation
from im2.participation.schemas import Visitor
from im2.sharing import service as sharing
from im2.workspaces.schemas import Actor

NICKNAMES = [
    "林小满",
    "陈一帆",
    "王可可",
    "周周",
    "Lily",
    "赵子墨",
    "孙悦",
    "吴桐",
    "郑好",
    "冯小北",
    "Kevin",
    "许诺",
    "何夕",
    "沈星",
    "韩梅梅",
    "曹小宝",
    "彭彭",
    "蒋大橙",
    "Amy",
    "罗一",
    "高远",
    "梁静",
    "宋小雨",
    "唐糖",
    "谢天",
    "邓超超",
    "叶子",
    "程橙",
    "苏苏",
    "潘多多",
    "杜若",
    "江南",
    "魏来",
    "薛宝",
    "范范",
    "袁园",
    "陆离",
    "姚瑶",
    "卢卡",
    "汪汪",
]
UAS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) MicroMessenger/8.0.50",
    "Mozilla/5.0 (Linux; Android 14; HUAWEI) MicroMessenger/8.0.49",
    "Mozilla/5.0 (Linux; Android 13; Xiaomi 13) MicroMessenger/8.0.48",
]


def _create_referral(session: Session, *, actor: Actor, campaign_id: int, start: datetime) -> None:
    """The referral with its rewards: points, two coupon pools and a prize for 10 friends."""
    free = incentives.do_create_pool(
        session,
        actor=actor,
        campaign_id=campaign_id,
        name="免费饮品券（邀请 3 位好友）",
        description="任意中杯饮品一杯，全国门店可用。",
        now=start,
    )
    incentives.do_generate_codes(session, actor=actor, pool_id=free.id, count=100, now=start)
    five = incentives.do_create_pool(
        session,
        actor=actor,
        campaign_id=campaign_id,
        name="5 元饮品券（新朋友）",
        description="新朋友专享，满 20 元可用。",
        now=start,
    )
    incentives.do_generate_codes(session, actor=actor, pool_id=five.id, count=300, now=start)
    cup = incentives.do_create_prize(
        session, actor=actor, campaign_id=campaign_id, name="樱花限定保温杯", units=20, now=start
    )
    service.do_create_referral(
        session,
        actor=actor,
        campaign_id=campaign_id,
        data=ReferralCreate(
            title="邀请好友，免费喝一杯",
            description="分享你的专属链接：好友注册并首次下单后，你得 20 积分，好友得 5 元饮品券；"
            "邀请满 3 位好友送免费饮品券，满 10 位送樱花限定保温杯。",
            qualify_on=QualifyOn.PURCHASE,
            levels=2,
            inviter_reward=Reward(kind="points", points=20),
            invitee_reward=Reward(kind="coupon", pool_id=five.id),
            level2_reward=Reward(kind="points", points=5),
            milestones=[
                Milestone(friends=3, reward=Reward(kind="coupon", pool_id=free.id)),
                Milestone(friends=10, reward=Reward(kind="prize", prize_id=cup.id)),
            ],
        ),
        now=start,
    )


class _Joins:
    """Joins the campaign's participants one by one (the n-th gets the n-th device, address
    and nickname), through a friend's share link when `via` is given."""

    def __init__(self, session: Session, *, workspace_id: int, campaign_id: int) -> None:
        self.session = session
        self.workspace_id = workspace_id
        self.campaign_id = campaign_id
        self.people: list[int] = []

    def _visitor(self, n: int, *, via: int | None, twin_of: int | None) -> Visitor:
        visitor = Visitor(
            device_id=f"referral-demo-{n:026d}",
            ip=f"10.{60 + n // 200}.{n % 200}.23",
            user_agent=UAS[n % len(UAS)],
            channel="wechat" if via is not None else "offline_qr",
            referrer=None,
        )
        if twin_of is not None:  # the same phone with a fresh cookie: a self-referral
            twin = twin_of % len(UAS)
            visitor = Visitor(
                device_id=visitor.device_id,
                ip=f"10.{60 + twin_of // 200}.{twin_of % 200}.23",
                user_agent=UAS[twin],
                channel="wechat",
            )
        return visitor

    def join(self, at: datetime, *, via: int | None, twin_of: int | None = None) -> int:
        n = len(self.people)
        session, ws, campaign_id = self.session, self.workspace_id, self.campaign_id
        visitor = self._visitor(n, via=via, twin_of=twin_of)
        if via is not None:
            code = sharing.do_get_link(
                session, workspace_id=ws, campaign_id=campaign_id, participant_id=via, now=at
            ).code
            sharing.do_click(session, code=code, visitor=visitor, now=at)
            visitor = Visitor(
                device_id=visitor.device_id,
                ip=visitor.ip,
                user_agent=visitor.user_agent,
                channel=visitor.channel,
                referrer=code,
            )
        pid = participation.do_join(
            session,
            workspace_id=ws,
            campaign_id=campaign_id,
            visitor=visitor,
            consented=True,
            now=at,
        ).id
        participation.do_set_nickname(
            session, participant_id=pid, nickname=NICKNAMES[n % len(NICKNAMES)]
        )
        self.people.append(pid)
        return pid


def _invites(
    joins: _Joins, rng: random.Random, *, start: datetime, paused: datetime
) -> tuple[list[int], list[tuple[int, int, datetime]], int]:
    """The share tree: (seeds, friends as (friend, inviter, joined at), the self-referral)."""
    hour = timedelta(hours=1)
    # Seeds from the WeCom groups, and how many friends each brings over the two weeks.
    seeds = [joins.join(start + timedelta(hours=2 + 5 * i), via=None) for i in range(6)]
    plan = {seeds[0]: 11, seeds[1]: 5, seeds[2]: 3, seeds[3]: 2, seeds[4]: 1, seeds[5]: 0}
    friends: list[tuple[int, int, datetime]] = []
    for inviter, count in plan.items():
        for k in range(count):
            day = 1 + k * 10 / max(count, 1)
            at = start + timedelta(days=day, hours=rng.randint(8, 20), minutes=rng.randint(0, 59))
            friends.append((joins.join(at, via=inviter), inviter, at))
    # A second level: some friends bring friends of their own.
    for friend, _inviter, at in list(friends[:4]):
        for k in range(2):
            later = min(at + timedelta(days=1 + k, hours=rng.randint(1, 6)), paused - hour * 3)
            friends.append((joins.join(later, via=friend), friend, later))
    # One self-referral: seed 1 "invites" their own phone with a fresh cookie.
    self_at = start + timedelta(days=6, hours=22)
    twin = joins.join(self_at, via=seeds[1], twin_of=joins.people.index(seeds[1]))
    friends.append((twin, seeds[1], self_at))
    return seeds, friends, twin


def load_demo(
    session: Session, *, actor: Actor, campaign_ids: dict[str, int], now: datetime
) -> None:
    campaign_id = campaign_ids["referral_paused"]
    rng = random.Random(20260314)
    start = now - timedelta(days=14)
    paused = now - timedelta(days=2)  # the campaign was paused two days ago
    hour = timedelta(hours=1)
    _create_referral(session, actor=actor, campaign_id=campaign_id, start=start)
    joins = _Joins(session, workspace_id=actor.workspace_id, campaign_id=campaign_id)
    seeds, friends, twin = _invites(joins, rng, start=start, paused=paused)

    def buy(pid: int, at: datetime) -> None:
        conversions.do_record_conversion(
            session,
            actor=actor,
            data=ConversionCreate(
                order_id=f"DEMO-REF-{pid}",
                amount=Decimal(rng.choice(["28.00", "32.00", "39.00", "56.00"])),
                currency="CNY",
                occurred_at=at,
                participant_id=pid,
                campaign_id=campaign_id,
            ),
            now=at,
        )

    # The top inviter's friends all bought but one (10: the cup); of the others about three in
    # four bought within two days (the shop's postback), the rest not yet.
    top = [f for f, inviter, _at in friends if inviter == seeds[0]]
    for friend, _inviter, at in friends:
        if friend == twin or (friend in top and friend != top[4]) or rng.random() < 0.72:
            bought = at + timedelta(hours=rng.randint(1, 48))
            buy(friend, max(min(bought, paused - hour), at + hour))

    settle = timedelta(0)
    while follow.process_events(session, now=now, settle=settle) >= follow.BATCH:
        pass
