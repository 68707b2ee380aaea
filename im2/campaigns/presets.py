"""Campaign templates: a starting point that pre-fills a new campaign."""

from __future__ import annotations

from dataclasses import dataclass

from im2.campaigns.schemas import Channel, KpiMetric, Media, Objective
from im2.i18n import N_


@dataclass(frozen=True, slots=True)
class KpiPreset:
    metric: KpiMetric
    target_value: float


@dataclass(frozen=True, slots=True)
class ChannelPreset:
    channel: Channel
    media: Media
    budget: float | None = None


@dataclass(frozen=True, slots=True)
class CampaignPreset:
    key: str
    title: str  # shown in the template picker (translated where shown)
    summary: str
    name: str  # pre-filled campaign name (translated where used)
    description: str
    audience: str
    objective: Objective
    duration_days: int
    kpi_targets: tuple[KpiPreset, ...]
    channels: tuple[ChannelPreset, ...]


PRESETS: tuple[CampaignPreset, ...] = (
    CampaignPreset(
        key="launch_feedback",
        title=N_("Product launch feedback"),
        summary=N_("Collect first impressions of a new product with a survey and a live Q&A."),
        name=N_("New product first-impressions survey"),
        description=N_(
            "Invite early users to try the new product and tell us what they think: "
            "a short survey, a live Q&A with the product team, and a coupon for every "
            "complete answer."
        ),
        audience=N_("Existing customers and followers who bought in the last 12 months."),
        objective=Objective.FEEDBACK,
        duration_days=14,
        kpi_targets=(
            KpiPreset(KpiMetric.PARTICIPANTS, 2000),
            KpiPreset(KpiMetric.INTERACTION_RATE, 15),
        ),
        channels=(
            ChannelPreset(Channel.WECHAT, Media.OWNED),
            ChannelPreset(Channel.EMAIL, Media.OWNED),
            ChannelPreset(Channel.WEIBO, Media.PAID, 5000),
        ),
    ),
    CampaignPreset(
        key="charity_vote",
        title=N_("Charity vote"),
        summary=N_("Let the public choose which cause the brand donates to."),
        name=N_("You choose where we donate"),
        description=N_(
            "For every vote the brand donates to the cause that wins. Voters see the live "
            "result after voting and can share the poll with friends."
        ),
        audience=N_("Everyone on our social channels; no purchase needed."),
        objective=Objective.ENGAGEMENT,
        duration_days=10,
        kpi_targets=(
            KpiPreset(KpiMetric.PARTICIPANTS, 10000),
            KpiPreset(KpiMetric.SHARES, 3000),
        ),
        channels=(
            ChannelPreset(Channel.WEIBO, Media.OWNED),
            ChannelPreset(Channel.WECHAT, Media.OWNED),
            ChannelPreset(Channel.DOUYIN, Media.EARNED),
        ),
    ),
    CampaignPreset(
        key="photo_challenge",
        title=N_("Hashtag photo challenge"),
        summary=N_("A UGC contest: people post photos with the hashtag, the public votes."),
        name=N_("Show us your moment #challenge"),
        description=N_(
            "Post a photo with the campaign hashtag. A jury and public votes pick the "
            "winners; every approved entry enters the lucky draw."
        ),
        audience=N_("Young urban users on Xiaohongshu and Douyin."),
        objective=Objective.UGC,
        duration_days=21,
        kpi_targets=(
            KpiPreset(KpiMetric.UGC_COUNT, 500),
            KpiPreset(KpiMetric.REACH, 200000),
        ),
        channels=(
            ChannelPreset(Channel.XIAOHONGSHU, Media.EARNED),
            ChannelPreset(Channel.DOUYIN, Media.PAID, 20000),
            ChannelPreset(Channel.WEIBO, Media.OWNED),
        ),
    ),
    CampaignPreset(
        key="invite_coupon",
        title=N_("Invite friends for a coupon"),
        summary=N_("A referral campaign: both sides get a coupon when a friend joins."),
        name=N_("Invite 3 friends, get a coupon"),
        description=N_(
            "Each participant gets a personal share link. When three friends join through "
            "it, the inviter receives a coupon; every new friend gets one too."
        ),
        audience=N_("Members of our WeChat groups and their friends."),
        objective=Objective.FISSION,
        duration_days=7,
        kpi_targets=(
            # K counts people who had the 3-day invitation window (docs/metrics.md): in a
            # 7-day campaign, the first four days' joiners. Above 1 it grows by itself.
            KpiPreset(KpiMetric.K_FACTOR, 1.2),
            KpiPreset(KpiMetric.CONVERSIONS, 800),
        ),
        channels=(
            ChannelPreset(Channel.WECHAT, Media.OWNED),
            ChannelPreset(Channel.OFFLINE_QR, Media.OWNED, 2000),
            ChannelPreset(Channel.SMS, Media.PAID, 3000),
        ),
    ),
)

PRESETS_BY_KEY = {preset.key: preset for preset in PRESETS}
