"""JSON API for analytics: the metric registry, a campaign's metrics, its dashboard overview."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from im2.analytics import service
from im2.analytics.schemas import Comparison, MetricInfo, MetricsRead
from im2.web.db_calls import read
from im2.web.deps import ApiActor, DbDep, NowDep, SettingsDep
from im2.web.params import Id, Moment

router = APIRouter(prefix="/api/v1", tags=["analytics"])

Since = Annotated[
    Moment | None,
    Query(description="From this time (inclusive); naive times are in the campaign's zone."),
]
Until = Annotated[Moment | None, Query(description="Until this time (exclusive).")]
ChannelFilter = Annotated[str | None, Query(description="Only events from this channel.")]
ActivityFilter = Annotated[Id | None, Query(alias="activity", description="Only this activity.")]
SegmentFilter = Annotated[
    Id | None, Query(description="Only the events of this segment's people (a segment id).")
]


def _scope(
    since: Since = None,
    until: Until = None,
    channel: ChannelFilter = None,
    activity: ActivityFilter = None,
    segment: SegmentFilter = None,
) -> dict[str, Any]:
    """A campaign's figures' filters from the query, as the analytics service takes them."""
    return {
        "since": since,
        "until": until,
        "channel": channel,
        "activity_id": activity,
        "segment_id": segment,
    }


Scope = Annotated[dict[str, Any], Depends(_scope)]


@router.get("/metrics", response_model=list[MetricInfo], summary="The metric registry")
def list_metrics(actor: ApiActor) -> list[MetricInfo]:
    return service.list_metrics()


@router.get(
    "/campaigns/{campaign_id}/metrics",
    response_model=MetricsRead,
    summary="Named metrics of a campaign (lake plus events not moved yet)",
)
def campaign_metrics(
    campaign_id: Id,
    actor: ApiActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    metrics: Annotated[list[str], Query(description="Metric keys, repeated or comma-separated.")],
    scope: Scope,
) -> MetricsRead:
    return read(
        db,
        service.get_metrics,
        actor=actor,
        campaign_id=campaign_id,
        keys=metrics,
        lake_path=settings.lake_path,
        now=now,
        **scope,
    )


@router.get(
    "/campaigns/{campaign_id}/overview",
    response_model=MetricsRead,
    summary="Everything the campaign dashboard shows",
)
def campaign_overview(
    campaign_id: Id, actor: ApiActor, db: DbDep, settings: SettingsDep, now: NowDep, scope: Scope
) -> MetricsRead:
    return read(
        db,
        service.get_overview,
        actor=actor,
        campaign_id=campaign_id,
        lake_path=settings.lake_path,
        now=now,
        **scope,
    )


@router.get(
    "/analytics/compare",
    response_model=Comparison,
    summary="Registry metrics of several campaigns side by side",
)
def compare_campaigns(
    actor: ApiActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    campaigns: Annotated[
        list[str], Query(description="Campaign ids, repeated or comma-separated (2 to 8).")
    ],
    metrics: Annotated[
        list[str] | None, Query(description="Metric keys (one number each); default: a set.")
    ] = None,
    since: Since = None,
    until: Until = None,
    channel: ChannelFilter = None,
) -> Comparison:
    ids = service.parse_campaign_ids(campaigns)
    return read(
        db,
        service.compare_campaigns,
        actor=actor,
        campaign_ids=ids,
        keys=metrics or None,
        since=since,
        until=until,
        channel=channel,
        lake_path=settings.lake_path,
        now=now,
    )
