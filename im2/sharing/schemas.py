"""Shapes of the sharing domain."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from im2.i18n import N_
from im2.types import PeopleData

SHARE_CHANNELS: tuple[tuple[str, str], ...] = (
    ("wechat", N_("WeChat")),
    ("weibo", N_("Weibo")),
    ("douyin", N_("Douyin")),
    ("xiaohongshu", N_("Xiaohongshu")),
    ("qr", N_("QR code")),
    ("link", N_("Copy the link")),
)

# The marketer's share kit (console): a link per channel for the brand's own posts, tagged
# with `ch` and UTM parameters, with its QR code and poster. (channel, label, utm_medium)
KIT_CHANNELS: tuple[tuple[str, str, str], ...] = (
    ("wechat", N_("WeChat"), "social"),
    ("weibo", N_("Weibo"), "social"),
    ("douyin", N_("Douyin"), "social"),
    ("xiaohongshu", N_("Xiaohongshu"), "social"),
    ("sms", N_("SMS"), "sms"),
    ("email", N_("E-mail"), "email"),
    ("offline", N_("Offline (print, posters, events)"), "offline"),
)
# Every channel tag the console names (others show as tagged).
CHANNEL_LABELS: dict[str, str] = {
    **dict(SHARE_CHANNELS),
    **{name: label for name, label, _medium in KIT_CHANNELS},
}


# UTM parameters a share link keeps (each cut to UTM_MAX characters): recorded on the click's
# `share.clicked` event and passed on to the campaign page, so a brand's own web analytics see
# them too. Without `ch`, `utm_source` names the channel.
UTM_KEYS: tuple[str, ...] = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
)
UTM_MAX = 100
CHANNEL_MAX = 32


def utm_of(query: dict[str, str]) -> dict[str, str]:
    """The non-empty UTM parameters of a query string, trimmed and cut to size."""
    found = {}
    for key in UTM_KEYS:
        value = " ".join((query.get(key) or "").split())[:UTM_MAX]
        if value:
            found[key] = value
    return found


def channel_of(query: dict[str, str], utm: dict[str, str]) -> str:
    """The channel tag of a click: `ch`, else the UTM source (lower case), else "link"."""
    tag = (query.get("ch") or "").strip() or utm.get("utm_source", "").lower() or "link"
    return tag[:CHANNEL_MAX]


@dataclass(frozen=True, slots=True)
class ShareLinkRead:
    code: str
    campaign_id: int
    participant_id: int
    created_at: datetime
    clicks: int


@dataclass(frozen=True, slots=True)
class ShareTreeNode:
    participant_id: int
    parent_id: int | None
    channel: str | None
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """Where links were shared: clicks on them and the people they brought, per channel tag."""

    channel: str
    clicks: int
    joined: int


@dataclass(frozen=True, slots=True)
class ShareStats:
    """A campaign's share links and the tree they grew (figures about it: the analytics
    registry's `participants`, `k_factor` and `cascade`)."""

    links: int
    clicks: int
    edges: list[ShareTreeNode]
    top_sharers: list[tuple[int, int]]  # (participant id, people they brought, all generations)
    channels: list[ChannelRow] = field(default_factory=list)  # most clicks first


# What this domain holds about people (im2.types.PeopleData, walked by im2.privacy.inventory).
PEOPLE_DATA: tuple[PeopleData, ...] = (
    PeopleData(
        table="share_links", participant_columns=("participant_id",), code_columns=("code",)
    ),
)
