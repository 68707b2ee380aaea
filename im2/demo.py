"""Demo data that looks like a real brand: a coffee chain running several campaigns.

Loaded through the same services a user goes through (so events and audit entries are real),
with time moved back where a campaign's history lies in the past.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from im2.activities.registry import FORMATS
from im2.analytics.ladder import ladder_job
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import (
    CampaignCreate,
    CampaignStatus,
    Channel,
    ChannelIn,
    KpiMetric,
    KpiTargetIn,
    Media,
    Objective,
)
from im2.clock import ManualClock
from im2.db import Database
from im2.events.schemas import ActorType
from im2.i18n import use_locale
from im2.workspaces import service as workspaces
from im2.workspaces.schemas import Actor, Role

DEMO_WORKSPACE = "shanye-coffee"
DEMO_PASSWORD = "im2-demo-2026"
DEMO_USERS: tuple[tuple[str, str, Role], ...] = (
    ("owner@shanye.example", "林晓（品牌负责人）", Role.OWNER),
    ("editor@shanye.example", "周雨桐（社群运营）", Role.EDITOR),
    ("analyst@shanye.example", "陈思远（数据分析）", Role.ANALYST),
    ("viewer@shanye.example", "王可（市场实习）", Role.VIEWER),
)
ZONE = ZoneInfo("Asia/Shanghai")


def _at(now: datetime, days: int, hour: int = 10) -> datetime:
    local = (now.astimezone(ZONE) + timedelta(days=days)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )
    return local


def load_demo(db: Database, *, now: datetime) -> bool:
    """Create the demo workspace once; returns False when it was already there."""
    with use_locale("zh_CN"), db.transaction() as session:
        if workspaces.get_workspace(session, slug=DEMO_WORKSPACE) is not None:
            return False
        workspace = workspaces.do_create_workspace(
            session,
            slug=DEMO_WORKSPACE,
            name="山野咖啡 Shanye Coffee",
            timezone="Asia/Shanghai",
            now=now - timedelta(days=90),
        )
        for email, name, role in DEMO_USERS:
            user_id = workspaces.do_create_user(
                session,
                email=email,
                display_name=name,
                password=DEMO_PASSWORD,
                now=now - timedelta(days=90),
            )
            workspaces.do_add_member(
                session,
                actor=None,
                workspace_id=workspace.id,
                user_id=user_id,
                role=role,
                now=now - timedelta(days=90),
            )
        other = workspaces.do_create_workspace(
            session,
            slug="bloom-tea",
            name="花间茶饮 Bloom Tea",
            timezone="Asia/Shanghai",
            now=now - timedelta(days=60),
        )
        owner_id = workspaces.get_user_id(session, email=DEMO_USERS[0][0])
        assert owner_id is not None
        workspaces.do_add_member(
            session,
            actor=None,
            workspace_id=other.id,
            user_id=owner_id,
            role=Role.EDITOR,
            now=now - timedelta(days=60),
        )
        owner = Actor(
            type=ActorType.USER,
            id=owner_id,
            label=DEMO_USERS[0][0],
            workspace_id=workspace.id,
            workspace_slug=workspace.slug,
            role=Role.OWNER,
        )

        def create(data: CampaignCreate, created: datetime) -> int:
            return campaigns.do_create_campaign(session, actor=owner, data=data, now=created).id

        def move(campaign_id: int, to: CampaignStatus, when: datetime) -> None:
            campaigns.do_transition_campaign(
                session, actor=owner, campaign_id=campaign_id, to=to, now=when
            )

        # Live: a launch survey that started five days ago.
        live = create(
            CampaignCreate(
                name="樱花拿铁新品首发体验调研",
                slug="sakura-latte-feedback",
                description="邀请老顾客试喝春季限定樱花拿铁，填写 3 分钟问卷并参加产品经理直播答疑，"
                "完整作答即送第二杯半价券。",
                objective=Objective.FEEDBACK,
                audience="近 12 个月有购买记录的会员，以及公众号粉丝。",
                timezone="Asia/Shanghai",
                starts_at=_at(now, -5),
                ends_at=_at(now, 9, 22),
                kpi_targets=[
                    KpiTargetIn(metric=KpiMetric.PARTICIPANTS, target_value=3000),
                    KpiTargetIn(metric=KpiMetric.INTERACTION_RATE, target_value=18),
                ],
                channels=[
                    ChannelIn(channel=Channel.WECHAT, media=Media.OWNED),
                    ChannelIn(channel=Channel.XIAOHONGSHU, media=Media.PAID, budget=12000),
                    ChannelIn(channel=Channel.EMAIL, media=Media.OWNED),
                ],
                template="launch_feedback",
            ),
            now - timedelta(days=12),
        )
        move(live, CampaignStatus.SCHEDULED, now - timedelta(days=10))
        campaigns.do_advance_campaigns(session, now=_at(now, -5))

        # Scheduled: a charity vote starting next week.
        vote = create(
            CampaignCreate(
                name="你来定，我们捐：一杯咖啡一份爱",
                slug="charity-vote-2026",
                description="每投一票，山野咖啡向得票最高的公益项目捐出 1 元：乡村图书角、流浪动物救助、"
                "山区咖啡农培训三选一。",
                objective=Objective.ENGAGEMENT,
                audience="所有关注山野咖啡微博和微信的用户，无需购买。",
                timezone="Asia/Shanghai",
                starts_at=_at(now, 7),
                ends_at=_at(now, 17, 20),
                kpi_targets=[
                    KpiTargetIn(metric=KpiMetric.PARTICIPANTS, target_value=20000),
                    KpiTargetIn(metric=KpiMetric.SHARES, target_value=5000),
                ],
                channels=[
                    ChannelIn(channel=Channel.WEIBO, media=Media.OWNED),
                    ChannelIn(channel=Channel.WECHAT, media=Media.OWNED),
                    ChannelIn(channel=Channel.DOUYIN, media=Media.EARNED),
                ],
                template="charity_vote",
            ),
            now - timedelta(days=3),
        )
        move(vote, CampaignStatus.SCHEDULED, now - timedelta(days=2))

        # Draft: a photo challenge still being planned.
        create(
            CampaignCreate(
                name="#我的咖啡时刻# 摄影挑战",
                slug="my-coffee-moment",
                description="带话题 #我的咖啡时刻# 晒出你和山野咖啡的照片，评委与网友投票选出 10 位获奖者，"
                "每位通过审核的参与者都可参加抽奖。",
                objective=Objective.UGC,
                audience="一二线城市 18–30 岁的小红书与抖音用户。",
                timezone="Asia/Shanghai",
                starts_at=_at(now, 20),
                ends_at=_at(now, 41, 22),
                kpi_targets=[
                    KpiTargetIn(metric=KpiMetric.UGC_COUNT, target_value=800),
                    KpiTargetIn(metric=KpiMetric.REACH, target_value=300000),
                ],
                channels=[
                    ChannelIn(channel=Channel.XIAOHONGSHU, media=Media.EARNED),
                    ChannelIn(channel=Channel.DOUYIN, media=Media.PAID, budget=30000),
                ],
                template="photo_challenge",
            ),
            now - timedelta(days=1),
        )

        # Paused: a referral campaign paused while the coupon stock is refilled.
        referral = create(
            CampaignCreate(
                name="邀请 3 位好友，免费喝一杯",
                slug="invite-3-friends",
                description="分享你的专属链接，3 位好友注册并下单后，你获得一张免费饮品券，好友各得 5 元券。",
                objective=Objective.FISSION,
                audience="企业微信社群成员及其好友。",
                timezone="Asia/Shanghai",
                starts_at=_at(now, -14),
                ends_at=_at(now, 16, 22),
                kpi_targets=[
                    # K: new participants per participant who had 3 days to invite
                    # (docs/metrics.md); 1.2 means the campaign grows by itself. The demo's
                    # cascade reads about 0.8 (95 % CI about 0.4-1.2): behind, within reach.
                    KpiTargetIn(metric=KpiMetric.K_FACTOR, target_value=1.2),
                    KpiTargetIn(metric=KpiMetric.CONVERSIONS, target_value=1500),
                ],
                channels=[
                    ChannelIn(channel=Channel.WECHAT, media=Media.OWNED),
                    ChannelIn(channel=Channel.OFFLINE_QR, media=Media.OWNED, budget=3000),
                    ChannelIn(channel=Channel.SMS, media=Media.PAID, budget=5000),
                ],
                template="invite_coupon",
            ),
            now - timedelta(days=20),
        )
        move(referral, CampaignStatus.SCHEDULED, now - timedelta(days=18))
        campaigns.do_advance_campaigns(session, now=_at(now, -14))
        move(referral, CampaignStatus.PAUSED, now - timedelta(days=2))

        # Ended: a mid-autumn pre-sale.
        presale = create(
            CampaignCreate(
                name="中秋限定礼盒预售",
                slug="mid-autumn-giftbox",
                description="中秋礼盒（挂耳咖啡 + 月饼）限量 5000 套预售，前 500 名下单送定制马克杯。",
                objective=Objective.CONVERSION,
                audience="全国会员，重点城市：上海、杭州、成都。",
                timezone="Asia/Shanghai",
                starts_at=_at(now, -70),
                ends_at=_at(now, -50, 23),
                kpi_targets=[
                    KpiTargetIn(metric=KpiMetric.CONVERSIONS, target_value=5000),
                    KpiTargetIn(metric=KpiMetric.REVENUE, target_value=990000),
                ],
                channels=[
                    ChannelIn(channel=Channel.WECHAT, media=Media.OWNED),
                    ChannelIn(channel=Channel.WEIBO, media=Media.PAID, budget=40000),
                    ChannelIn(channel=Channel.DOUYIN, media=Media.PAID, budget=60000),
                ],
            ),
            now - timedelta(days=80),
        )
        move(presale, CampaignStatus.SCHEDULED, now - timedelta(days=75))
        campaigns.do_advance_campaigns(session, now=_at(now, -70))
        campaigns.do_advance_campaigns(session, now=_at(now, -50, 23) + timedelta(minutes=1))

        # Archived: last year's year-end lucky draw.
        year_end = create(
            CampaignCreate(
                name="年终回馈抽奖",
                slug="year-end-draw",
                description="年终会员回馈：消费满 30 元即可参与抽奖，奖品包括咖啡机和全年免费咖啡。",
                objective=Objective.ENGAGEMENT,
                timezone="Asia/Shanghai",
                starts_at=_at(now, -88),
                ends_at=_at(now, -81, 22),
                channels=[ChannelIn(channel=Channel.WECHAT, media=Media.OWNED)],
            ),
            now - timedelta(days=89),
        )
        move(year_end, CampaignStatus.SCHEDULED, now - timedelta(days=89))
        campaigns.do_advance_campaigns(session, now=_at(now, -88))
        campaigns.do_advance_campaigns(session, now=_at(now, -81, 22) + timedelta(minutes=1))
        move(year_end, CampaignStatus.ARCHIVED, now - timedelta(days=70))

        # Every activity format adds its own demo content (its `demo`), in the order of their
        # names (the demo's seeded data stays the same).
        campaign_ids = {
            "feedback_live": live,
            "charity_scheduled": vote,
            "referral_paused": referral,
            "presale_ended": presale,
        }
        for fmt in sorted(FORMATS, key=lambda f: f.kind.value):
            if fmt.demo is not None:
                fmt.demo(session, actor=owner, campaign_ids=campaign_ids, now=now)
        from im2.influence.demo import load_influence_demo

        load_influence_demo(session, actor=owner, campaign_id=referral, now=now)
        from im2.incentives.demo import load_incentives_demo

        load_incentives_demo(session, actor=owner, campaign_ids=campaign_ids, now=now)
        from im2.demo_views import load_views_demo

        # Last: the people who looked, including every participant the demos above made.
        load_views_demo(session, actor=owner, campaign_ids=campaign_ids, now=now)
    ladder_job(db, ManualClock(now))  # the closeness ladder of everyone the demos above made
    from im2.people.demo import load_segments_demo

    load_segments_demo(db, actor=owner, now=now)  # three saved segments over that ladder
    return True
