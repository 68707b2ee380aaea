"""Shapes of a campaign report: what the report shows, gathered once and rendered as HTML or
PDF."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from im2.activities.schemas import ActivityKind, ActivityRead
from im2.analytics.schemas import MetricsRead
from im2.campaigns.schemas import CampaignRead
from im2.experiments.schemas import ExperimentResults
from im2.listening.schemas import Dashboard


class ReportFormat(StrEnum):
    HTML = "html"
    PDF = "pdf"


MEDIA_TYPES = {ReportFormat.HTML: "text/html; charset=utf-8", ReportFormat.PDF: "application/pdf"}
REPORT_LOCALES = ("zh_CN", "en")


@dataclass(frozen=True, slots=True)
class UgcHighlight:
    activity: str
    rank: int
    nickname: str | None
    caption: str
    votes: int
    total: float  # the contest's own ranking score, 0..1 (what the entries are ranked by)
    jury_average: float | None  # 0..10, None before any juror scored it
    jurors: int
    jury_weight: float  # total = jury_weight × jury average / 10 + (1 − it) × votes / most votes


@dataclass(frozen=True, slots=True)
class SharerHighlight:
    participant_id: int
    nickname: str | None
    brought: int  # people brought in, all generations of the share tree


@dataclass(frozen=True, slots=True)
class ActivityResult:
    """What one activity came to: a headline ("樱花拿铁 won with …") and a few lines."""

    title: str
    kind: ActivityKind
    headline: str
    lines: list[str]


@dataclass(frozen=True, slots=True)
class CampaignReport:
    """Everything a report shows. Numbers come from the analytics registry (`metrics`); the
    lists of entries and sharers from their domains; nothing here is computed by the report."""

    campaign: CampaignRead
    workspace_name: str
    generated_at: datetime
    locale: str
    metrics: MetricsRead
    activities: list[ActivityRead]
    top_ugc: list[UgcHighlight]
    top_sharers: list[SharerHighlight]
    sentiment: Dashboard | None  # None when the workspace has no mentions in the period
    experiments: list[ExperimentResults]  # started ones (running or concluded), newest first
    conclusions: list[str]
    charts: dict[str, str] = field(default_factory=dict)  # chart key → SVG
    results: list[ActivityResult] = field(default_factory=list)  # polls, quizzes, surveys


@dataclass(frozen=True, slots=True)
class ReportFile:
    content: bytes
    filename: str
    media_type: str
