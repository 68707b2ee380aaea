"""Shapes of the sharing domain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from im2.i18n import N_

SHARE_CHANNELS: tuple[tuple[str, str], ...] = (
    ("wechat", N_("WeChat")),
    ("weibo", N_("Weibo")),
    ("douyin", N_("Douyin")),
    ("xiaohongshu", N_("Xiaohongshu")),
    ("qr", N_("QR code")),
    ("link", N_("Copy the link")),
)


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
class ShareStats:
    links: int
    clicks: int
    participants: int
    referred: int
    k_factor: float
    cascade_size: int
    max_depth: int
    max_breadth: int
    structural_virality: float | None
    viral_cycle_hours: float | None
    edges: list[ShareTreeNode]
    top_sharers: list[tuple[int, int]]  # (participant id, people they brought, all generations)
