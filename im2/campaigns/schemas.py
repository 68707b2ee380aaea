"""Campaign vocabularies (status, objective, channels, KPI metrics) and request/response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from im2.i18n import N_
from im2.types import DbId, LabelledEnum, labels_of


class CampaignStatus(LabelledEnum):
    DRAFT = "draft", N_("Draft")
    SCHEDULED = "scheduled", N_("Scheduled")
    LIVE = "live", N_("Live")
    PAUSED = "paused", N_("Paused")
    ENDED = "ended", N_("Ended")
    ARCHIVED = "archived", N_("Archived")


# The status machine: draft → scheduled → live ⇄ paused → ended → archived.
TRANSITIONS: dict[CampaignStatus, frozenset[CampaignStatus]] = {
    CampaignStatus.DRAFT: frozenset({CampaignStatus.SCHEDULED, CampaignStatus.ARCHIVED}),
    CampaignStatus.SCHEDULED: frozenset({CampaignStatus.DRAFT, CampaignStatus.LIVE}),
    CampaignStatus.LIVE: frozenset({CampaignStatus.PAUSED, CampaignStatus.ENDED}),
    CampaignStatus.PAUSED: frozenset({CampaignStatus.LIVE, CampaignStatus.ENDED}),
    CampaignStatus.ENDED: frozenset({CampaignStatus.ARCHIVED}),
    CampaignStatus.ARCHIVED: frozenset(),
}
EDITABLE_STATUSES = frozenset(
    {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.LIVE, CampaignStatus.PAUSED}
)

STATUS_LABELS = labels_of(CampaignStatus)
# What the button that moves a campaign *to* a status says.
TRANSITION_LABELS = {
    CampaignStatus.DRAFT: N_("Back to draft"),
    CampaignStatus.SCHEDULED: N_("Schedule"),
    CampaignStatus.LIVE: N_("Go live"),
    CampaignStatus.PAUSED: N_("Pause"),
    CampaignStatus.ENDED: N_("End now"),
    CampaignStatus.ARCHIVED: N_("Archive"),
}


class Objective(LabelledEnum):
    AWARENESS = "awareness", N_("Awareness")
    ENGAGEMENT = "engagement", N_("Engagement")
    UGC = "ugc", N_("User-generated content")
    CONVERSION = "conversion", N_("Conversion")
    FISSION = "fission", N_("Fission (invite friends)")
    FEEDBACK = "feedback", N_("Feedback")


OBJECTIVE_LABELS = labels_of(Objective)


class Channel(LabelledEnum):
    WECHAT = "wechat", N_("WeChat")
    WEIBO = "weibo", N_("Weibo")
    DOUYIN = "douyin", N_("Douyin")
    XIAOHONGSHU = "xiaohongshu", N_("Xiaohongshu")
    BILIBILI = "bilibili", N_("Bilibili")
    FACEBOOK = "facebook", N_("Facebook")
    INSTAGRAM = "instagram", N_("Instagram")
    X = "x", N_("X (Twitter)")
    TIKTOK = "tiktok", N_("TikTok")
    OFFLINE_QR = "offline_qr", N_("Offline QR code")
    EMAIL = "email", N_("E-mail")
    SMS = "sms", N_("SMS")
    OTHER = "other", N_("Other")


CHANNEL_LABELS = labels_of(Channel)


class Media(LabelledEnum):
    PAID = "paid", N_("Paid")
    OWNED = "owned", N_("Owned")
    EARNED = "earned", N_("Earned")


MEDIA_LABELS = labels_of(Media)


class KpiMetric(LabelledEnum):
    """KPI keys a campaign can set targets on; the analytics registry defines each one."""

    PARTICIPANTS = "participants", N_("Participants")
    INTERACTIONS = "interactions", N_("Interactions")
    INTERACTION_RATE = "interaction_rate", N_("Interaction rate (%)")
    REACH = "reach", N_("Reach (unique viewers)")
    UGC_COUNT = "ugc_count", N_("UGC submissions")
    SHARES = "shares", N_("Shares")
    K_FACTOR = "k_factor", N_("K-factor")
    CONVERSIONS = "conversions", N_("Conversions")
    CONVERSION_RATE = "conversion_rate", N_("Conversion rate (%)")
    REVENUE = "revenue", N_("Revenue (CNY)")
    RETENTION_D7 = "retention_d7", N_("D7 retention (%)")


KPI_LABELS = labels_of(KpiMetric)


class Language(LabelledEnum):
    """A language a campaign's public pages speak (BCP 47; docs/languages.md)."""

    ZH_CN = "zh-CN", N_("Simplified Chinese")
    ZH_TW = "zh-TW", N_("Traditional Chinese")
    EN = "en", N_("English")


# The im2.i18n locale of each language.
LANGUAGE_LOCALES = {Language.ZH_CN: "zh_CN", Language.ZH_TW: "zh_TW", Language.EN: "en"}
LANGUAGE_LABELS = labels_of(Language)


def _unique_languages(value: list[Language] | None) -> list[Language] | None:
    # Kept in a fixed order (the vocabulary's), whatever order they were given in.
    return None if value is None else [lang for lang in Language if lang in value]


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Slug = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
TimezoneName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class KpiTargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: KpiMetric
    target_value: float = Field(gt=0, le=1e12)
    deadline: datetime | None = Field(
        default=None, description="Naive times are read in the campaign's time zone."
    )


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel
    media: Media
    budget: float | None = Field(default=None, ge=0, le=1e12)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "CNY"


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    slug: Slug
    description: LongText = ""
    objective: Objective
    audience: LongText = ""
    timezone: TimezoneName = "Asia/Shanghai"
    starts_at: datetime | None = Field(
        default=None, description="Naive times are read in the campaign's time zone."
    )
    ends_at: datetime | None = None
    kpi_targets: list[KpiTargetIn] = Field(default_factory=list, max_length=20)
    channels: list[ChannelIn] = Field(default_factory=list, max_length=len(Channel))
    template: str | None = Field(default=None, max_length=32)
    minors_gate: bool = Field(
        default=False,
        description="Ask whether a participant is under 14; a child joins only with a "
        "guardian's consent (PIPL Art. 31).",
    )
    eligible_segment_id: DbId | None = Field(
        default=None, description="Only this segment's people may take part (a segment id)."
    )
    languages: list[Language] = Field(
        default_factory=lambda: [Language.ZH_CN],
        min_length=1,
        max_length=len(Language),
        description="The languages its public pages speak.",
    )
    default_language: Language = Field(
        default=Language.ZH_CN,
        description="Shown when the visitor's browser asks for none of `languages`; one of them.",
    )

    _languages = field_validator("languages")(_unique_languages)

    @field_validator("default_language")
    @classmethod
    def _default_offered(cls, value: Language, info: ValidationInfo) -> Language:
        offered = info.data.get("languages")
        if offered is not None and value not in offered:
            raise ValueError(N_("The default language must be one of the campaign's languages."))
        return value


class CampaignUpdate(BaseModel):
    """Fields left out stay as they are; lists given replace the old ones whole."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    slug: Slug | None = None
    description: LongText | None = None
    objective: Objective | None = None
    audience: LongText | None = None
    timezone: TimezoneName | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    kpi_targets: list[KpiTargetIn] | None = Field(default=None, max_length=20)
    channels: list[ChannelIn] | None = Field(default=None, max_length=len(Channel))
    minors_gate: bool | None = None
    # null clears it: everyone may take part again.
    eligible_segment_id: DbId | None = None
    # Checked against each other (given or stored) by the service.
    languages: list[Language] | None = Field(default=None, min_length=1, max_length=len(Language))
    default_language: Language | None = None

    _languages = field_validator("languages")(_unique_languages)


class CampaignTransition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: CampaignStatus


class CampaignDuplicate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    slug: Slug | None = None


class KpiTargetRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    metric: KpiMetric
    target_value: float
    deadline: datetime | None


class ChannelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    channel: Channel
    media: Media
    budget: float | None
    currency: str


class CampaignRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    slug: str
    name: str
    description: str
    objective: Objective
    audience: str
    status: CampaignStatus
    timezone: str
    starts_at: datetime | None
    ends_at: datetime | None
    template_key: str | None
    minors_gate: bool = False
    # Only this segment's people may take part, as of this version of it.
    eligible_segment_id: int | None = None
    eligible_segment_version: int | None = None
    languages: list[Language] = Field(default_factory=lambda: [Language.ZH_CN])
    default_language: Language = Language.ZH_CN
    created_by: str
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime
    kpi_targets: list[KpiTargetRead]
    channels: list[ChannelRead]
    next_statuses: list[CampaignStatus]


class CampaignFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: list[CampaignStatus] = Field(default_factory=list)
    objective: Objective | None = None
    channel: Channel | None = None
    q: str | None = Field(default=None, max_length=120)
    include_archived: bool = False


class CampaignPage(BaseModel):
    items: list[CampaignRead]
    next_cursor: str | None
