"""Shapes of the listening domain: mentions, imports, topics, alerts and the inbox."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from pydantic import AliasChoices, BaseModel, ConfigDict, EmailStr, Field, field_validator

from im2.i18n import N_, _
from im2.outbound import web_link
from im2.types import DbId, LabelledEnum, labels_of

# Longer posts are cut here (long-form WeChat articles run to tens of thousands of characters;
# the first part is what listening needs, and the raw row keeps the original length).
MAX_TEXT: Final = 10_000
MAX_BATCH: Final = 1000
# Counts are stored as BIGINT (SQLite INTEGER): anything larger is a broken export, not a post.
MAX_COUNT: Final = 2**63 - 1
# Control characters (NUL above all, which PostgreSQL text refuses) carry nothing a reader
# sees; they go, so both databases store the same text. Tabs and line breaks stay.
CONTROL_CHARS: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Platform(LabelledEnum):
    WEIBO = "weibo", N_("Weibo")
    WECHAT = "wechat", N_("WeChat")
    DOUYIN = "douyin", N_("Douyin")
    XIAOHONGSHU = "xiaohongshu", N_("Xiaohongshu")
    TWITTER = "twitter", N_("X / Twitter")
    FACEBOOK = "facebook", N_("Facebook")
    RSS = "rss", N_("RSS / Atom")
    OTHER = "other", N_("Other")


PLATFORM_LABELS: Final = labels_of(Platform)


class SentimentLabel(LabelledEnum):
    POSITIVE = "positive", N_("Positive")
    NEUTRAL = "neutral", N_("Neutral")
    NEGATIVE = "negative", N_("Negative")


SENTIMENT_LABELS: Final = labels_of(SentimentLabel)


class MentionIn(BaseModel):
    """One mention as it arrives (API batch, file row or feed entry)."""

    platform: Platform
    post_id: Annotated[str, Field(min_length=1, max_length=128)]
    text: Annotated[str, Field(max_length=1_000_000)]
    url: Annotated[str | None, Field(max_length=1024)] = None
    author: Annotated[str, Field(max_length=200)] = ""
    author_followers: Annotated[int, Field(ge=0, le=MAX_COUNT)] = 0
    posted_at: datetime
    likes: Annotated[int, Field(ge=0, le=MAX_COUNT)] = 0
    reposts: Annotated[int, Field(ge=0, le=MAX_COUNT)] = 0
    comments: Annotated[int, Field(ge=0, le=MAX_COUNT)] = 0
    raw: dict[str, Any] = Field(default_factory=dict)

    @field_validator("post_id", "text", "url", "author", mode="before")
    @classmethod
    def _no_lone_surrogates(cls, value: object) -> object:
        # JSON may carry "\\ud83d" without its pair (a tweet cut in the middle of an emoji);
        # no database stores that, so it becomes U+FFFD like any undecodable byte.
        if isinstance(value, str):
            value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            return CONTROL_CHARS.sub("", value)
        return value

    @field_validator("url")
    @classmethod
    def _web_link(cls, value: str | None) -> str | None:
        # Shown as a link on the console: only http(s), never javascript: or data:.
        if value is None or not value.strip():
            return None
        if web_link(value) is None:
            raise ValueError(_("the link must be an http:// or https:// address"))
        return value.strip()

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        # As the file importer: a post without words is nothing to listen to.
        if not value.strip():
            raise ValueError(_("the text is empty"))
        return value

    @field_validator("posted_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # A time without an offset from an API client is taken as UTC, as the API docs say.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class MentionBatch(BaseModel):
    mentions: Annotated[list[MentionIn], Field(min_length=1, max_length=MAX_BATCH)]


class RowError(BaseModel):
    line: int
    message: str  # in the language of the import; pages show `code` in the reader's
    code: str | None = None  # a key of importers.ROW_PROBLEMS (None: stored before codes)
    params: dict[str, str] = Field(default_factory=dict)


class IngestResult(BaseModel):
    received: int
    imported: int
    duplicates: int
    failed: int
    truncated: int
    errors: list[RowError]
    import_id: int | None = None


class ImportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    filename: str
    file_format: str
    mapping: str
    encoding: str
    rows: int
    imported: int
    duplicates: int
    failed: int
    truncated: int
    errors: list[RowError]
    created_by: str
    created_at: datetime
    # Imports commit batch by batch: `running` while batches are still being written (or after
    # a crash, until the same file is imported again and resumes), `done`, or `failed`.
    status: str = "done"
    finished_at: datetime | None = None
    sha256: str | None = None


class MentionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    platform: Platform
    post_id: str
    url: str | None
    author: str
    author_followers: int
    text: str
    language: str
    posted_at: datetime
    likes: int
    reposts: int
    comments: int
    sentiment: SentimentLabel | None
    sentiment_confidence: float | None
    # Read from the mention's `sentiment_positive_probability`.
    positive_probability: Annotated[
        float | None,
        Field(
            validation_alias=AliasChoices("sentiment_positive_probability", "positive_probability"),
            description="The sentiment model's calibrated P(positive), 0..1, to rank mentions "
            "by or apply one's own threshold; the label uses the model's neutral band. Null "
            "for mentions stored before it was kept. A correction changes the label, not this.",
        ),
    ] = None
    sentiment_corrected: bool
    duplicate_group: int | None


class MentionPage(BaseModel):
    items: list[MentionRead]
    next_cursor: str | None


class MentionFilter(BaseModel):
    platform: Platform | None = None
    sentiment: SentimentLabel | None = None
    language: str | None = None
    topic_id: DbId | None = None
    q: Annotated[str | None, Field(max_length=200)] = None
    since: datetime | None = None
    until: datetime | None = None


class SentimentCorrectionIn(BaseModel):
    sentiment: SentimentLabel


class FeedCreate(BaseModel):
    url: Annotated[str, Field(min_length=8, max_length=1024, pattern=r"^https?://")]
    platform: Platform = Platform.RSS
    interval_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 15


class FeedRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    platform: Platform
    interval_minutes: int
    last_polled_at: datetime | None
    last_error: str | None


class FeedPollRead(BaseModel):
    feed: FeedRead
    imported: int  # new mentions from this poll


class CorrectionSummaryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    total: int
    distinct: int
    by_label: dict[SentimentLabel, int]
    training: int
    held_out: int
    needed_training: int
    needed_held_out: int


class SentimentVariantRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    corrections: int
    train_rows: int
    test_rows: int
    accuracy_before: float
    accuracy_after: float
    features: int
    active: bool
    created_by: str
    created_at: datetime


class SentimentModelRead(BaseModel):
    corrections: CorrectionSummaryRead
    variants: list[SentimentVariantRead]


class SentimentVariantUpdate(BaseModel):
    active: bool


# --- topics -------------------------------------------------------------------------------


class TopicKind(LabelledEnum):
    BRAND = "brand", N_("Our brand")
    COMPETITOR = "competitor", N_("Competitor")
    OTHER = "other", N_("Other")


TOPIC_KIND_LABELS: Final = labels_of(TopicKind)


class Sensitivity(LabelledEnum):
    LOW = "low", N_("Low")
    MEDIUM = "medium", N_("Medium")
    HIGH = "high", N_("High")


SENSITIVITY_LABELS: Final = labels_of(Sensitivity)


class TopicCreate(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=80)]
    query: Annotated[str, Field(min_length=1, max_length=2000)]
    kind: TopicKind = TopicKind.OTHER
    alerts_enabled: bool = True
    sensitivity: Sensitivity = Sensitivity.MEDIUM
    cooldown_minutes: Annotated[int, Field(ge=0, le=7 * 24 * 60)] = 360


class TopicUpdate(BaseModel):
    name: Annotated[str | None, Field(min_length=1, max_length=80)] = None
    query: Annotated[str | None, Field(min_length=1, max_length=2000)] = None
    kind: TopicKind | None = None
    alerts_enabled: bool | None = None
    sensitivity: Sensitivity | None = None
    cooldown_minutes: Annotated[int | None, Field(ge=0, le=7 * 24 * 60)] = None


class TopicRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    query: str
    kind: TopicKind
    alerts_enabled: bool
    sensitivity: Sensitivity
    cooldown_minutes: int
    mentions: int = 0


class TimelinePoint(BaseModel):
    start: datetime
    total: int
    positive: int
    neutral: int
    negative: int


class ShareOfVoice(BaseModel):
    topic_id: int
    name: str
    kind: TopicKind
    mentions: int
    share: float
    negative_share: float


class Dashboard(BaseModel):
    topic_id: int | None
    bucket_minutes: int
    timeline: list[TimelinePoint]
    share_of_voice: list[ShareOfVoice]
    total: int


# --- alerts -------------------------------------------------------------------------------


class AlertKind(LabelledEnum):
    VOLUME = "volume", N_("Volume spike")
    NEGATIVE = "negative", N_("Negative sentiment surge")


ALERT_KIND_LABELS: Final = labels_of(AlertKind)


class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    topic_id: int | None
    topic_name: str | None = None
    kind: AlertKind
    window_start: datetime
    window_end: datetime
    observed: float
    baseline: float
    score: float
    mentions: int
    negative_share: float
    top_terms: list[Any]
    samples: list[dict[str, Any]]
    top_authors: list[dict[str, Any]]
    crisis_plan: dict[str, Any]
    delivery: dict[str, Any]
    acknowledged_at: datetime | None
    raised_at: datetime


class CrisisContact(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=120)]
    role: Annotated[str, Field(max_length=120)] = ""
    phone: Annotated[str, Field(max_length=40)] = ""
    email: Annotated[str, Field(max_length=254)] = ""


class LadderStep(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=80)]
    minutes: Annotated[int, Field(ge=1, le=30 * 24 * 60)]


class ListeningSettingsIn(BaseModel):
    webhook_url: Annotated[str | None, Field(max_length=1024, pattern=r"^https?://")] = None
    alert_emails: Annotated[list[EmailStr], Field(max_length=20)] = Field(default_factory=list)
    crisis_contacts: Annotated[list[CrisisContact], Field(max_length=20)] = Field(
        default_factory=list
    )
    crisis_steps: Annotated[list[str], Field(max_length=30)] = Field(default_factory=list)
    vip_followers: Annotated[int, Field(ge=0)] = 100_000
    inbox_keywords: Annotated[list[str], Field(max_length=100)] = Field(default_factory=list)
    # The mail relay alerts go through (a local relay without login, as most companies run).
    smtp_host: Annotated[str | None, Field(max_length=255)] = None
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 25
    smtp_sender: Annotated[str, Field(max_length=254)] = "im2-alerts@localhost"
    escalation_ladder: Annotated[list[LadderStep], Field(min_length=1, max_length=10)] = Field(
        default_factory=lambda: [
            LadderStep(name="Public reply", minutes=60),
            LadderStep(name="Private message", minutes=240),
            LadderStep(name="E-mail or phone", minutes=24 * 60),
        ]
    )


class ListeningSettingsRead(ListeningSettingsIn):
    # Addresses saved before they were checked must still load (delivery skips bad ones).
    alert_emails: list[str] = Field(default_factory=list)


# --- inbox --------------------------------------------------------------------------------


class InboxStatus(LabelledEnum):
    NEW = "new", N_("New")
    # Not "In progress": that msgid is a survey's state (填写中) in the shared catalogue.
    IN_PROGRESS = "in_progress", N_("Being handled")
    REPLIED = "replied", N_("Replied")
    ESCALATED = "escalated", N_("Escalated")
    CLOSED = "closed", N_("Closed")


INBOX_STATUS_LABELS: Final = labels_of(InboxStatus)
# Statuses in which the clock of the escalation ladder runs.
OPEN_STATUSES: Final = frozenset({InboxStatus.NEW, InboxStatus.IN_PROGRESS, InboxStatus.ESCALATED})


class Priority(LabelledEnum):
    LOW = "low", N_("Low")
    NORMAL = "normal", N_("Normal")
    HIGH = "high", N_("High")
    URGENT = "urgent", N_("Urgent")


PRIORITY_LABELS: Final = labels_of(Priority)


class InboxReason(LabelledEnum):
    NEGATIVE = "negative", N_("Negative")
    QUESTION = "question", N_("Question")
    VIP = "vip", N_("VIP author")
    KEYWORD = "keyword", N_("Brand rule")


INBOX_REASON_LABELS: Final = labels_of(InboxReason)


class InboxNoteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    body: str
    author: str
    created_at: datetime


class InboxItemRead(BaseModel):
    id: int
    mention: MentionRead
    reasons: list[InboxReason]
    priority: Priority
    status: InboxStatus
    assignee_id: int | None
    assignee_label: str | None
    escalation_step: int
    escalation_step_name: str | None
    step_due_at: datetime | None
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    notes: list[InboxNoteRead] = Field(default_factory=list)


class InboxPage(BaseModel):
    items: list[InboxItemRead]
    next_cursor: str | None


class InboxUpdate(BaseModel):
    status: InboxStatus | None = None
    priority: Priority | None = None
    assignee_id: DbId | None = None
    unassign: bool = False


class InboxNoteCreate(BaseModel):
    body: Annotated[str, Field(min_length=1, max_length=5000)]
    # A reply is what the brand sent to the author: it counts as the first response.
    reply: bool = False


class ReplyTemplateCreate(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=80)]
    body: Annotated[str, Field(min_length=1, max_length=5000)]


class ReplyTemplateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    body: str


class ResponseTimes(BaseModel):
    """First-response and resolution times (minutes) for one person or topic."""

    key: str
    items: int
    responded: int
    resolved: int
    median_first_response_minutes: float | None
    median_resolution_minutes: float | None


# --- keywords and trending terms ----------------------------------------------------------


class TermRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    term: str
    count: int  # posts read in the period that contain the term
    baseline_count: int  # posts read in the baseline that contain it
    lift: float | None  # None when the baseline period has no posts


class TermPeriod(BaseModel):
    since: datetime
    until: datetime
    sampled: int  # posts read (the most recent ones, up to TermBoard.sample_limit)
    complete: bool  # every post of the period was read


class TermBoard(BaseModel):
    """Keywords of a period (the word cloud) and its trending terms against a baseline."""

    topic_id: int | None
    sample_limit: int
    window: TermPeriod
    baseline: TermPeriod
    keywords: list[TermRead]
    trending: list[TermRead]


# --- saved column mappings ----------------------------------------------------------------


class ColumnMappingIn(BaseModel):
    """Which column(s) of a file hold each mention field; the first column found wins."""

    name: Annotated[str, Field(min_length=1, max_length=64)]
    platform: Platform = Platform.OTHER
    # Field name (post_id, text, title, author, author_followers, posted_at, likes, reposts,
    # comments, url, platform) → accepted column names; dots reach into nested JSON.
    columns: Annotated[
        dict[str, Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=20)]],
        Field(min_length=1, max_length=20),
    ]
    required: Annotated[list[str], Field(max_length=20)] = Field(default_factory=lambda: ["text"])
    # Naive times in the file are wall-clock times in this zone; None: the workspace's zone.
    timezone: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class ColumnMappingRead(BaseModel):
    name: str
    title: str
    preset: bool  # shipped with IM2 (cannot be changed or deleted)
    platform: Platform
    columns: dict[str, list[str]]
    required: list[str]
    timezone: str | None  # None: the workspace's time zone
