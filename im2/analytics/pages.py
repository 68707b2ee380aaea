"""Console pages for analytics: the campaign dashboard, its live data and chart downloads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse, Response

from im2.analytics import service
from im2.analytics.exports import MEDIA_TYPES, ExportFormat, export_rows
from im2.analytics.metrics import AISAS_STAGES, METRICS
from im2.analytics.schemas import MetricsRead
from im2.campaigns.schemas import CHANNEL_LABELS, MEDIA_LABELS, Channel
from im2.campaigns.service import get_campaign
from im2.errors import InvalidInput
from im2.i18n import _
from im2.web.deps import ConsoleActor, DbDep, NowDep, SettingsDep
from im2.web.templating import render

router = APIRouter(
    prefix="/console/w/{workspace}/campaigns/{campaign_id}/analytics", include_in_schema=False
)

# Cards on top of the dashboard, in order.
CARDS = (
    "participants",
    "reach",
    "interactions",
    "interaction_rate",
    "conversions",
    "conversion_rate",
    "revenue",
    "roi",
    "k_factor",
    "retention_d7",
    "new_vs_returning",
)
CHARTS = (
    "timeseries",
    "aisas_funnel",
    "coverage_by_channel",
    "media_breakdown",
    "hour_of_week",
    "retention_cohorts",
    "kpi_progress",
)


def _parse_time(value: str | None, field: str) -> datetime | None:
    """A datetime-local input (wall-clock in the campaign's zone) or an ISO time; blank is none."""
    if value is None or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            _("Enter a date and time such as 2026-03-02T10:00."), field=field
        ) from None


def _labels() -> dict[str, Any]:
    return {
        "series": {
            "reach": _("Reach"),
            "participants": _("Participants"),
            "interactions": _("Interactions"),
            "shares": _("Shares"),
            "conversions": _("Conversions"),
            "revenue": _("Revenue"),
        },
        "stages": {key: _(name) for key, name in AISAS_STAGES},
        "channels": {c.value: _(CHANNEL_LABELS[c]) for c in Channel} | {"direct": _("Direct")},
        "media": {m.value: _(label) for m, label in MEDIA_LABELS.items()},
        "weekdays": [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")],
        "events": _("Events"),
        "empty": _("No data yet."),
        "budget": _("Budget"),
    }


def _overview(
    db: DbDep,
    settings: SettingsDep,
    actor: ConsoleActor,
    now: datetime,
    campaign_id: int,
    **filters: Any,
) -> MetricsRead:
    with db.session() as session:
        campaign = get_campaign(session, actor=actor, campaign_id=campaign_id)
        return service.get_overview(
            session,
            actor=actor,
            campaign_id=campaign.id,
            since=_parse_time(filters.get("since"), "since"),
            until=_parse_time(filters.get("until"), "until"),
            channel=filters.get("channel") or None,
            activity_id=filters.get("activity"),
            lake_path=settings.lake_path,
            now=now,
        )


Text = Annotated[str | None, Query()]
ActivityParam = Annotated[int | None, Query()]


@router.get("")
def dashboard(
    request: Request,
    campaign_id: int,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    since: Text = None,
    until: Text = None,
    channel: Text = None,
    activity: ActivityParam = None,
) -> Response:
    with db.session() as session:
        campaign = get_campaign(session, actor=actor, campaign_id=campaign_id)
    filters = {
        "since": since or "",
        "until": until or "",
        "channel": channel or "",
        "activity": activity,
    }
    error = None
    data = None
    try:
        data = _overview(db, settings, actor, now, campaign_id, **filters)
    except InvalidInput as exc:
        error = exc.message
    return render(
        request,
        "analytics/dashboard.html",
        {
            "campaign": campaign,
            "data": data.model_dump(mode="json") if data else None,
            "error": error,
            "filters": filters,
            "query": str(request.url.query),
            "cards": CARDS,
            "charts": CHARTS,
            "names": {key: _(METRICS[key].name) for key in METRICS},
            "labels": _labels(),
            "channels": list(Channel),
            "channel_labels": CHANNEL_LABELS,
            "formats": list(ExportFormat),
            "nav": "campaigns",
        },
        status_code=422 if error else 200,
    )


@router.get("/data")
def live_data(
    campaign_id: int,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    since: Text = None,
    until: Text = None,
    channel: Text = None,
    activity: ActivityParam = None,
) -> JSONResponse:
    """The dashboard's numbers as JSON, polled by the page to stay live."""
    data = _overview(
        db,
        settings,
        actor,
        now,
        campaign_id,
        since=since,
        until=until,
        channel=channel,
        activity=activity,
    )
    return JSONResponse(data.model_dump(mode="json"))


@router.get("/export/{metric}.{fmt}")
def export(
    campaign_id: int,
    metric: str,
    fmt: ExportFormat,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    since: Text = None,
    until: Text = None,
    channel: Text = None,
    activity: ActivityParam = None,
) -> Response:
    """One chart's data (the same numbers as the API) as CSV, Excel or Parquet."""
    with db.session() as session:
        answer = service.get_metrics(
            session,
            actor=actor,
            campaign_id=campaign_id,
            keys=[metric],
            since=_parse_time(since, "since"),
            until=_parse_time(until, "until"),
            channel=channel or None,
            activity_id=activity,
            lake_path=settings.lake_path,
            now=now,
        )
    result = answer.metrics[metric]
    rows = result.rows if result.rows is not None else [{"metric": metric, "value": result.value}]
    filename = f"{answer.campaign.slug}-{metric}.{fmt.value}"
    return Response(
        export_rows(rows, fmt, sheet=metric),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
