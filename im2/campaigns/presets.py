"""Campaign templates: each is a whole campaign, its fields pre-filled in the form and its
activities (a template's poll with its options, its survey with its questions ...) created with
it, in the same transaction, ready to go live after review.

The activities live in `im2.activities`, a layer above campaigns: a template names each by its
kind and its create input (the format's JSON API shape, texts translated when it is made), and
`im2.app` registers the maker that turns them into activities (`use_activity_maker`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from im2.campaigns.schemas import Channel, KpiMetric, Media, Objective
from im2.errors import InvalidInput
from im2.i18n import N_, _
from im2.workspaces.schemas import Actor


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
class ActivityPreset:
    """One activity a template creates: its kind ("poll", "survey" ...) and its create input
    as the format's API takes it, built when the campaign is made (texts in the user's
    language)."""

    kind: str
    data: Callable[[], dict[str, Any]]


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
    activities: tuple[ActivityPreset, ...] = field(default=())


# --- the templates' activities ----------------------------------------------------------------


def _launch_survey() -> dict[str, Any]:
    return {
        "title": _("First impressions of the new product"),
        "description": _("Four short questions; it takes about a minute."),
        "questions": [
            {
                "kind": "single",
                "text": _("Have you tried the new product yet?"),
                "required": True,
                "options": [
                    {"label": _("Yes")},
                    # the rating only makes sense to those who tried it: jump to question 3
                    {"label": _("Not yet"), "skip_to": 3},
                ],
            },
            {"kind": "rating", "text": _("How do you rate it?"), "required": True},
            {
                "kind": "nps",
                "text": _("How likely are you to recommend us to a friend?"),
                "required": True,
            },
            {"kind": "text", "text": _("What should we improve?")},
        ],
    }


def _launch_qa() -> dict[str, Any]:
    return {
        "title": _("Ask the product team"),
        "description": _("Ask your question and vote for the ones you want answered first."),
        "premoderation": True,
    }


def _charity_poll() -> dict[str, Any]:
    return {
        "title": _("Which cause should we donate to?"),
        "description": _(
            "One vote per person. The cause with the most votes receives the donation."
        ),
        "options": [
            {"label": _("Reading corners for rural schools")},
            {"label": _("Shelters for stray animals")},
            {"label": _("Trees for city parks")},
            {"label": _("A helpline for elderly people living alone")},
        ],
        "results": "after_vote",
    }


def _photo_contest() -> dict[str, Any]:
    return {
        "title": _("Show us your moment"),
        "description": _(
            "Post a photo or a short video with the hashtag. Entries are checked before they "
            "are shown; the jury and the public votes decide the winners."
        ),
        "hashtag": _("#MyMoment"),
        "entries_per_participant": 3,
        "votes_per_day": 3,
        "jury_weight": 0.6,
    }


def _invite_referral() -> dict[str, Any]:
    return {
        "title": _("Invite 3 friends"),
        "description": _(
            "Share your personal link. Every friend who joins gets a welcome gift, and when "
            "three friends have joined you get yours."
        ),
        "qualify_on": "joined",
        "invitee_reward": {"kind": "points", "points": 50},
        "milestones": [{"friends": 3, "reward": {"kind": "points", "points": 300}}],
    }


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
        activities=(ActivityPreset("survey", _launch_survey), ActivityPreset("qa", _launch_qa)),
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
        activities=(ActivityPreset("poll", _charity_poll),),
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
        activities=(ActivityPreset("ugc", _photo_contest),),
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
        activities=(ActivityPreset("referral", _invite_referral),),
    ),
)

PRESETS_BY_KEY = {preset.key: preset for preset in PRESETS}


# Makes one template activity in a campaign (in the caller's transaction): registered by
# `im2.app` from the activities layer, which knows the formats.
ActivityMaker = Callable[[Session, Actor, int, ActivityPreset, datetime], None]
_activity_maker: ActivityMaker | None = None


def use_activity_maker(maker: ActivityMaker) -> None:
    global _activity_maker
    _activity_maker = maker


def create_preset_activities(
    session: Session, *, actor: Actor, campaign_id: int, preset: CampaignPreset, now: datetime
) -> None:
    """Every activity of the template, in the campaign just created (same transaction: the
    campaign and its activities are made together or not at all)."""
    if not preset.activities:
        return
    if _activity_maker is None:
        raise InvalidInput(_("Campaign templates are not available here."), field="template")
    for activity in preset.activities:
        _activity_maker(session, actor, campaign_id, activity, now)
