"""Demo data that looks like a real brand: a coffee chain running several campaigns.

Loaded through the same services a user goes through (so events and audit entries are real),
with time moved back where a campaign's history lies in the past.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

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
    Language,
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


# A step of a demo campaign's history: a status change so many days before now, or the
# scheduler's pass at its start ("start") or a minute after its end ("end").
_Step = tuple[CampaignStatus, int] | Literal["start", "end"]


@dataclass(frozen=True)
class _DemoCampaign:
    """One demo campaign: its content, its dates in days from now, and its history."""

    key: str | None  # its name in the `campaign_ids` the formats' demos receive
    name: str
    slug: str
    description: str
    objective: Objective
    audience: str
    starts: tuple[int, int]  # (days from now, local hour)
    ends: tuple[int, int]
    kpis: tuple[tuple[KpiMetric, float], ...]
    channels: tuple[tuple[Channel, Media, float | None], ...]
    template: str | None
    created: int  # days before now
    history: tuple[_Step, ...]
    # The languages its public pages speak, the first its default (docs/languages.md).
    languages: tuple[Language, ...] = (Language.ZH_CN,)


_SCHEDULED = CampaignStatus.SCHEDULED
DEMO_CAMPAIGNS: tuple[_DemoCampaign, ...] = (
    # Live: a launch survey that started five days ago.
    _DemoCampaign(
        key="feedback_live",
        name="樱花拿铁新品首发体验调研",
        slug="sakura-latte-feedback",
        description="邀请老顾客试喝春季限定樱花拿铁，填写 3 分钟问卷并参加产品经理直播答疑，"
        "完整作答即送第二杯半价券。",
        objective=Objective.FEEDBACK,
        audience="近 12 个月有购买记录的会员，以及公众号粉丝。",
        starts=(-5, 10),
        ends=(9, 22),
        kpis=((KpiMetric.PARTICIPANTS, 3000), (KpiMetric.INTERACTION_RATE, 18)),
        channels=(
            (Channel.WECHAT, Media.OWNED, None),
            (Channel.XIAOHONGSHU, Media.PAID, 12000),
            (Channel.EMAIL, Media.OWNED, None),
        ),
        template="launch_feedback",
        created=12,
        history=((_SCHEDULED, 10), "start"),
        # Its members include Hong Kong and overseas customers: the pages offer a switcher.
        languages=(Language.ZH_CN, Language.ZH_TW, Language.EN),
    ),
    # Scheduled: a charity vote starting next week.
    _DemoCampaign(
        key="charity_scheduled",
        name="你来定，我们捐：一杯咖啡一份爱",
        slug="charity-vote-2026",
        description="每投一票，山野咖啡向得票最高的公益项目捐出 1 元：乡村图书角、流浪动物救助、"
        "山区咖啡农培训三选一。",
        objective=Objective.ENGAGEMENT,
        audience="所有关注山野咖啡微博和微信的用户，无需购买。",
        starts=(7, 10),
        ends=(17, 20),
        kpis=((KpiMetric.PARTICIPANTS, 20000), (KpiMetric.SHARES, 5000)),
        channels=(
            (Channel.WEIBO, Media.OWNED, None),
            (Channel.WECHAT, Media.OWNED, None),
            (Channel.DOUYIN, Media.EARNED, None),
        ),
        template="charity_vote",
        created=3,
        history=((_SCHEDULED, 2),),
    ),
    # Draft: a photo challenge still being planned.
    _DemoCampaign(
        key=None,
        name="#我的咖啡时刻# 摄影挑战",
        slug="my-coffee-moment",
        description="带话题 #我的咖啡时刻# 晒出你和山野咖啡的照片，评委与网友投票选出 10 位获奖者，"
        "每位通过审核的参与者都可参加抽奖。",
        objective=Objective.UGC,
        audience="一二线城市 18–30 岁的小红书与抖音用户。",
        starts=(20, 10),
        ends=(41, 22),
        kpis=((KpiMetric.UGC_COUNT, 800), (KpiMetric.REACH, 300000)),
        channels=(
            (Channel.XIAOHONGSHU, Media.EARNED, None),
            (Channel.DOUYIN, Media.PAID, 30000),
        ),
        template="photo_challenge",
        created=1,
        history=(),
    ),
    # Paused: a referral campaign paused while the coupon stock is refilled.
    _DemoCampaign(
        key="referral_paused",
        name="邀请 3 位好友，免费喝一杯",
        slug="invite-3-friends",
        description="分享你的专属链接，3 位好友注册并下单后，你获得一张免费饮品券，好友各得 5 元券。",
        objective=Objective.FISSION,
        audience="企业微信社群成员及其好友。",
        starts=(-14, 10),
        ends=(16, 22),
        kpis=(
            # K: new participants per participant who had 3 days to invite
            # (docs/metrics.md); 1.2 means the campaign grows by itself. The demo's
            # cascade reads about 0.8 (95 % CI about 0.4-1.2): behind, within reach.
            (KpiMetric.K_FACTOR, 1.2),
            (KpiMetric.CONVERSIONS, 1500),
        ),
        channels=(
            (Channel.WECHAT, Media.OWNED, None),
            (Channel.OFFLINE_QR, Media.OWNED, 3000),
            (Channel.SMS, Media.PAID, 5000),
        ),
        template="invite_coupon",
        created=20,
        history=((_SCHEDULED, 18), "start", (CampaignStatus.PAUSED, 2)),
    ),
    # Ended: a mid-autumn pre-sale.
    _DemoCampaign(
        key="presale_ended",
        name="中秋限定礼盒预售",
        slug="mid-autumn-giftbox",
        description="中秋礼盒（挂耳咖啡 + 月饼）限量 5000 套预售，前 500 名下单送定制马克杯。",
        objective=Objective.CONVERSION,
        audience="全国会员，重点城市：上海、杭州、成都。",
        starts=(-70, 10),
        ends=(-50, 23),
        kpis=((KpiMetric.CONVERSIONS, 5000), (KpiMetric.REVENUE, 990000)),
        channels=(
            (Channel.WECHAT, Media.OWNED, None),
            (Channel.WEIBO, Media.PAID, 40000),
            (Channel.DOUYIN, Media.PAID, 60000),
        ),
        template=None,
        created=80,
        history=((_SCHEDULED, 75), "start", "end"),
    ),
    # Archived: last year's year-end lucky draw.
    _DemoCampaign(
        key=None,
        name="年终回馈抽奖",
        slug="year-end-draw",
        description="年终会员回馈：消费满 30 元即可参与抽奖，奖品包括咖啡机和全年免费咖啡。",
        objective=Objective.ENGAGEMENT,
        audience="",
        starts=(-88, 10),
        ends=(-81, 22),
        kpis=(),
        channels=((Channel.WECHAT, Media.OWNED, None),),
        template=None,
        created=89,
        history=((_SCHEDULED, 89), "start", "end", (CampaignStatus.ARCHIVED, 70)),
    ),
)


def _at(now: datetime, days: int, hour: int = 10) -> datetime:
    local = (now.astimezone(ZONE) + timedelta(days=days)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )
    return local


def _create_workspaces(session: Session, *, now: datetime) -> Actor:
    """The brand's workspace with its four users, and a second brand its owner also edits;
    returns the owner."""
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
    return Actor(
        type=ActorType.USER,
        id=owner_id,
        label=DEMO_USERS[0][0],
        workspace_id=workspace.id,
        workspace_slug=workspace.slug,
        role=Role.OWNER,
    )


def _create_campaign(session: Session, *, owner: Actor, plan: _DemoCampaign, now: datetime) -> int:
    """One demo campaign, created and taken through its history; returns its id."""
    data = CampaignCreate(
        name=plan.name,
        slug=plan.slug,
        description=plan.description,
        objective=plan.objective,
        audience=plan.audience,
        timezone="Asia/Shanghai",
        starts_at=_at(now, *plan.starts),
        ends_at=_at(now, *plan.ends),
        kpi_targets=[KpiTargetIn(metric=m, target_value=v) for m, v in plan.kpis],
        channels=[ChannelIn(channel=c, media=m, budget=b) for c, m, b in plan.channels],
        template=plan.template,
        languages=list(plan.languages),
        default_language=plan.languages[0],
    )
    created = now - timedelta(days=plan.created)
    campaign_id = campaigns.do_create_campaign(session, actor=owner, data=data, now=created).id
    for step in plan.history:
        if step == "start":
            campaigns.do_advance_campaigns(session, now=_at(now, *plan.starts))
        elif step == "end":
            ends = _at(now, *plan.ends) + timedelta(minutes=1)
            campaigns.do_advance_campaigns(session, now=ends)
        else:
            status, days_before = step
            campaigns.do_transition_campaign(
                session,
                actor=owner,
                campaign_id=campaign_id,
                to=status,
                now=now - timedelta(days=days_before),
            )
    return campaign_id


def _load_content(
    session: Session, *, owner: Actor, campaign_ids: dict[str, int], now: datetime
) -> None:
    """What the campaigns hold: every format's demo, the influence graph, incentives, views."""
    # Every activity format adds its own demo content (its `demo`), in the order of their
    # names (the demo's seeded data stays the same).
    for fmt in sorted(FORMATS, key=lambda f: f.kind.value):
        if fmt.demo is not None:
            fmt.demo(session, actor=owner, campaign_ids=campaign_ids, now=now)
    from im2.influence.demo import load_influence_demo

    load_influence_demo(session, actor=owner, campaign_id=campaign_ids["referral_paused"], now=now)
    from im2.incentives.demo import load_incentives_demo

    load_incentives_demo(session, actor=owner, campaign_ids=campaign_ids, now=now)
    from im2.demo_views import load_views_demo

    # Last: the people who looked, including every participant the demos above made.
    load_views_demo(session, actor=owner, campaign_ids=campaign_ids, now=now)


def load_demo(db: Database, *, now: datetime) -> bool:
    """Create the demo workspace once; returns False when it was already there."""
    with use_locale("zh_CN"), db.transaction() as session:
        if workspaces.get_workspace(session, slug=DEMO_WORKSPACE) is not None:
            return False
        owner = _create_workspaces(session, now=now)
        campaign_ids: dict[str, int] = {}
        for plan in DEMO_CAMPAIGNS:
            campaign_id = _create_campaign(session, owner=owner, plan=plan, now=now)
            if plan.key is not None:
                campaign_ids[plan.key] = campaign_id
        _load_content(session, owner=owner, campaign_ids=campaign_ids, now=now)
    ladder_job(db, ManualClock(now))  # the closeness ladder of everyone the demos above made
    from im2.people.demo import load_segments_demo

    load_segments_demo(db, actor=owner, now=now)  # three saved segments over that ladder
    return True
