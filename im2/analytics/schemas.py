"""Analytics request and response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from im2.people.segments.schemas import SegmentRef


class MetricInfo(BaseModel):
    """A metric as the registry defines it."""

    key: str
    name: str
    description: str
    unit: str
    kinds: list[str]
    columns: list[str]
    forecastable: bool


class MetricResult(BaseModel):
    key: str
    name: str
    unit: str
    value: float | None
    rows: list[dict[str, Any]] | None = None


class CampaignRef(BaseModel):
    id: int
    slug: str
    name: str
    timezone: str


class MetricsRead(BaseModel):
    """Metrics of one campaign under one set of filters, as of `computed_at`."""

    campaign: CampaignRef
    since: datetime | None
    until: datetime | None
    channel: str | None
    activity_id: int | None
    computed_at: datetime
    lake_mark: int
    tail_events: int
    metrics: dict[str, MetricResult]
    # The segment whose people the figures are restricted to, and its version used.
    segment: SegmentRef | None = None


class ComparedMetric(BaseModel):
    key: str
    name: str
    unit: str
    values: list[float | None]  # one per campaign, in the order of `campaigns`


class Comparison(BaseModel):
    """Registry metrics of several campaigns side by side, under the same filters."""

    campaigns: list[CampaignRef]
    metrics: list[ComparedMetric]
    since: datetime | None
    until: datetime | None
    channel: str | None
    computed_at: datetime
