"""Column mappings: how a file's columns become mention fields, and the ready-made ones.

Every field lists the column names it accepts, first match wins, so one mapping reads the
variants of an export that tools and versions produce (Chinese and English headers). Names
with dots reach into nested JSON (``user.followers_count``). docs/listening-formats.md shows an
example of each format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from im2.i18n import N_
from im2.listening.schemas import Platform


class MentionField(StrEnum):
    POST_ID = "post_id"
    TEXT = "text"
    TITLE = "title"  # put before the text (WeChat and Xiaohongshu titles carry the point)
    AUTHOR = "author"
    FOLLOWERS = "author_followers"
    POSTED_AT = "posted_at"
    LIKES = "likes"
    REPOSTS = "reposts"
    COMMENTS = "comments"
    URL = "url"
    PLATFORM = "platform"


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    key: str
    title: str
    platform: Platform
    columns: dict[MentionField, tuple[str, ...]]
    # Fields the file must have a column for; the rest are read when present.
    required: frozenset[MentionField] = frozenset({MentionField.TEXT})
    # Naive times in the file are wall-clock times in this zone: the zone the export is
    # written in (Chinese platforms' exports are in Beijing time, X's and Facebook's in UTC).
    # None: the file's format names no zone, so its times are the workspace's wall-clock
    # times (unless the import names a zone). A time with its own offset keeps it.
    timezone: str | None = "Asia/Shanghai"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform.value,
            "columns": {f.value: list(names) for f, names in self.columns.items()},
            "required": sorted(f.value for f in self.required),
            "timezone": self.timezone,
        }


def spec_from_json(key: str, data: dict[str, Any]) -> ColumnSpec:
    """A saved mapping; raises ValueError (with the reason) when it is malformed."""
    try:
        platform = Platform(data.get("platform", "other"))
        columns: dict[MentionField, tuple[str, ...]] = {}
        for name, value in dict(data["columns"]).items():
            names = (value,) if isinstance(value, str) else tuple(str(v) for v in value)
            if not names or not all(n.strip() for n in names):
                raise ValueError(f"field {name}: empty column name")
            columns[MentionField(name)] = names
        required = frozenset(MentionField(r) for r in data.get("required", ["text"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from None
    if MentionField.TEXT not in columns:
        raise ValueError("the mapping must say which column holds the text")
    missing = required - columns.keys()
    if missing:
        raise ValueError("required fields without a column: " + ", ".join(sorted(missing)))
    zone = data.get("timezone")
    return ColumnSpec(key, key, platform, columns, required, str(zone) if zone else None)


F = MentionField
PLATFORM_REQUIRED: Final = frozenset({F.POST_ID, F.TEXT, F.POSTED_AT})

PRESETS: Final[tuple[ColumnSpec, ...]] = (
    ColumnSpec(
        "weibo",
        N_("Weibo export (weibo-crawler, third-party monitoring tools)"),
        Platform.WEIBO,
        {
            F.POST_ID: ("id", "微博id", "mid", "bid", "微博ID"),
            F.TEXT: ("微博正文", "正文", "内容", "text", "content"),
            F.AUTHOR: ("用户昵称", "昵称", "作者", "screen_name", "user.screen_name"),
            F.FOLLOWERS: ("粉丝数", "followers_count", "user.followers_count"),
            F.POSTED_AT: ("完整日期", "发布时间", "日期", "created_at"),
            F.LIKES: ("点赞数", "attitudes_count"),
            F.REPOSTS: ("转发数", "reposts_count"),
            F.COMMENTS: ("评论数", "comments_count"),
            F.URL: ("微博链接", "链接", "url"),
        },
        PLATFORM_REQUIRED,
    ),
    ColumnSpec(
        "wechat",
        N_("WeChat official account articles (Newrank-style export)"),
        Platform.WECHAT,
        {
            F.POST_ID: ("文章ID", "msgid", "文章链接", "链接", "url"),
            F.TITLE: ("标题", "文章标题", "title"),
            F.TEXT: ("正文", "内容", "摘要", "digest", "content"),
            F.AUTHOR: ("公众号", "公众号名称", "nickname"),
            F.FOLLOWERS: ("粉丝数", "预估粉丝数"),
            F.POSTED_AT: ("发布时间", "publish_time"),
            F.LIKES: ("点赞数", "like_num"),
            F.REPOSTS: ("在看数", "分享数", "share_num"),
            F.COMMENTS: ("留言数", "评论数", "comment_num"),
            F.URL: ("文章链接", "链接", "url"),
        },
        PLATFORM_REQUIRED,
    ),
    ColumnSpec(
        "douyin",
        N_("Douyin videos (creator centre or data tool export)"),
        Platform.DOUYIN,
        {
            F.POST_ID: ("视频ID", "作品ID", "aweme_id", "item_id"),
            F.TEXT: ("视频描述", "作品描述", "标题", "desc"),
            F.AUTHOR: ("作者昵称", "达人昵称", "昵称", "nickname"),
            F.FOLLOWERS: ("粉丝数", "follower_count"),
            F.POSTED_AT: ("发布时间", "create_time"),
            F.LIKES: ("点赞数", "digg_count"),
            F.REPOSTS: ("分享数", "转发数", "share_count"),
            F.COMMENTS: ("评论数", "comment_count"),
            F.URL: ("视频链接", "作品链接", "share_url"),
        },
        PLATFORM_REQUIRED,
    ),
    ColumnSpec(
        "xiaohongshu",
        N_("Xiaohongshu notes (data tool export)"),
        Platform.XIAOHONGSHU,
        {
            F.POST_ID: ("笔记ID", "note_id"),
            F.TITLE: ("笔记标题", "标题", "title"),
            F.TEXT: ("笔记内容", "内容", "正文", "desc"),
            F.AUTHOR: ("作者", "博主昵称", "昵称", "nickname"),
            F.FOLLOWERS: ("粉丝数", "fans"),
            F.POSTED_AT: ("发布时间", "time"),
            F.LIKES: ("点赞数", "liked_count"),
            F.REPOSTS: ("分享数", "share_count"),
            F.COMMENTS: ("评论数", "comment_count"),
            F.URL: ("笔记链接", "链接", "note_url"),
        },
        PLATFORM_REQUIRED,
    ),
    ColumnSpec(
        "twitter",
        N_("X / Twitter (archive tweets.js, API v2 JSON, CSV)"),
        Platform.TWITTER,
        {
            F.POST_ID: ("id_str", "id", "tweet_id"),
            F.TEXT: ("full_text", "text"),
            F.AUTHOR: ("user.screen_name", "author.username", "username", "user"),
            F.FOLLOWERS: (
                "user.followers_count",
                "author.public_metrics.followers_count",
                "followers_count",
            ),
            F.POSTED_AT: ("created_at", "tweet_date", "date"),
            F.LIKES: ("favorite_count", "public_metrics.like_count", "like_count"),
            F.REPOSTS: ("retweet_count", "public_metrics.retweet_count"),
            F.COMMENTS: ("reply_count", "public_metrics.reply_count"),
            F.URL: ("url",),
        },
        PLATFORM_REQUIRED,
        timezone="UTC",
    ),
    ColumnSpec(
        "facebook",
        N_("Facebook (Graph API posts JSON, CrowdTangle CSV)"),
        Platform.FACEBOOK,
        {
            F.POST_ID: ("id", "post_id", "URL"),
            F.TEXT: ("message", "Message", "Description"),
            F.AUTHOR: ("from.name", "Page Name", "User Name"),
            F.FOLLOWERS: ("Followers at Posting", "Likes at Posting", "from.fan_count"),
            F.POSTED_AT: ("created_time", "Post Created"),
            F.LIKES: ("reactions.summary.total_count", "Likes"),
            F.REPOSTS: ("shares.count", "Shares"),
            F.COMMENTS: ("comments.summary.total_count", "Comments"),
            F.URL: ("permalink_url", "URL"),
        },
        PLATFORM_REQUIRED,
        timezone="UTC",
    ),
    ColumnSpec(
        "weibo_senti_100k",
        N_("weibo_senti_100k (label + text TSV, no ids or times)"),
        Platform.WEIBO,
        {F.TEXT: ("review", "x_valid", "x_test", "x_train", "text")},
    ),
    ColumnSpec(
        "sentiment140",
        N_("Sentiment140 (polarity, tweet_id, tweet_date, query, user, text)"),
        Platform.TWITTER,
        {
            F.POST_ID: ("tweet_id",),
            F.TEXT: ("text",),
            F.AUTHOR: ("user",),
            F.POSTED_AT: ("tweet_date",),
        },
        PLATFORM_REQUIRED,
        timezone="UTC",
    ),
    ColumnSpec(
        "reviews",
        N_("Labelled reviews (ChnSentiCorp, waimai_10k: label, review)"),
        Platform.OTHER,
        {F.TEXT: ("review", "text_a", "text")},
    ),
    ColumnSpec(
        "im2",
        N_("IM2 columns (platform, post_id, text, author, posted_at, …)"),
        Platform.OTHER,
        {
            F.PLATFORM: ("platform",),
            F.POST_ID: ("post_id",),
            F.TEXT: ("text",),
            F.AUTHOR: ("author",),
            F.FOLLOWERS: ("author_followers",),
            F.POSTED_AT: ("posted_at",),
            F.LIKES: ("likes",),
            F.REPOSTS: ("reposts",),
            F.COMMENTS: ("comments",),
            F.URL: ("url",),
        },
        timezone=None,  # IM2's own columns: the workspace's zone unless a value says
    ),
)
PRESETS_BY_KEY: Final = {p.key: p for p in PRESETS}
