"""JSON API for analytics: the metric registry, a campaign's metrics, its dashboard overview."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from im2.analytics import service
from im2.analytics.schemas import Comparison, MetricInfo, MetricsRead
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
    since: Since = None,
    until: Until = None,
    channel: ChannelFilter = None,
    activity: ActivityFilter = None,
    segment: SegmentFilter = None,
) -> MetricsRead:
    with db.session() as session:
        return service.get_metrics(
            session,
            actor=actor,
            campaign_id=campaign_id,
            keys=metrics,
            since=since,
            until=until,
            channel=channel,
            activity_id=activity,
            segment_id=segment,
            lake_path=settings.lake_path,
            now=now,
        )


@router.get(
    "/campaigns/{campaign_id}/overview",
    response_model=MetricsRead,
    summary="Everything the campaign dashboard shows",
)
def campaign_overview(
    campaign_id: Id,
    actor: ApiActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    since: Since = None,
    until: Until = None,
    channel: ChannelFilter = None,
    activity: ActivityFilter = None,
    segment: SegmentFilter = None,
) -> MetricsRead:
    with db.session() as session:
        return service.get_overview(
            session,
            actor=actor,
            campaign_id=campaign_id,
            since=since,
            until=until,
            channel=channel,
            activity_id=activity,
            segment_id=segment,
            lake_path=settings.lake_path,
            now=now,
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
    with db.session() as session:
        return service.compare_campaigns(
            session,
            actor=actor,
            campaign_ids=ids,
            keys=metrics or None,
            since=since,
            until=until,
            channel=channel,
            lake_path=settings.lake_path,
            now=now,
        )
