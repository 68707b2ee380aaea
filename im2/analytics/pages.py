"""Console pages for analytics: the campaign dashboard, its live data and chart downloads, the
live minute view, the activities' figures and the cross-campaign comparison. What the
dashboard shows before its script runs is `dashboard_view`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from sse_starlette import EventSourceResponse
from starlette.responses import JSONResponse, Response

from im2.activities.schemas import KIND_LABELS
from im2.activities.service import get_activity, list_activities
from im2.analytics import dashboard_view as view
from im2.analytics import service
from im2.analytics.exports import MEDIA_TYPES, ExportFormat, export_rows
from im2.analytics.live import live_response
from im2.analytics.metrics import METRICS
from im2.analytics.schemas import Comparison, MetricsRead
from im2.campaigns.schemas import CHANNEL_LABELS, CampaignFilter, Channel
from im2.campaigns.service import get_campaign, list_campaigns
from im2.errors import InvalidInput, NotFound
from im2.i18n import _
from im2.web.db_calls import read
from im2.web.deps import ConsoleActor, DbDep, HubDep, NowDep, SettingsDep
from im2.web.errors import error_body
from im2.web.params import Id
from im2.web.templating import local_time, render
from im2.workspaces.schemas import Actor
from im2.workspaces.service import get_workspace_by_id

campaign_router = APIRouter(prefix="/console/w/{workspace}/campaigns/{campaign_id}/analytics")
workspace_router = APIRouter(prefix="/console/w/{workspace}/analytics")

Text = Annotated[str | None, Query()]
ActivityParam = Annotated[Id | None, Query()]


@dataclass(frozen=True, slots=True)
class Filters:
    """The dashboard's filters from the query string (a blank one is no filter)."""

    since: str | None = None
    until: str | None = None
    channel: str | None = None
    activity: int | None = None

    def form(self) -> dict[str, Any]:
        """As the page's filter form shows them."""
        return {
            "since": self.since or "",
            "until": self.until or "",
            "channel": self.channel or "",
            "activity": self.activity,
        }

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in self.form().items() if v not in (None, "")}

    def scope(self) -> dict[str, Any]:
        """As the analytics service takes them (a time that does not parse is a 422)."""
        return {
            "since": view.parse_time(self.since, "since"),
            "until": view.parse_time(self.until, "until"),
            "channel": self.channel or None,
            "activity_id": self.activity,
        }


def _filters(
    since: Text = None, until: Text = None, channel: Text = None, activity: ActivityParam = None
) -> Filters:
    return Filters(since=since, until=until, channel=channel, activity=activity)


FiltersDep = Annotated[Filters, Depends(_filters)]


def _metrics(
    db: DbDep,
    settings: SettingsDep,
    actor: Actor,
    now: datetime,
    campaign_id: int,
    keys: list[str],
    filters: Filters = Filters(),
) -> MetricsRead:
    return read(
        db,
        service.get_metrics,
        actor=actor,
        campaign_id=campaign_id,
        keys=keys,
        lake_path=settings.lake_path,
        now=now,
        **filters.scope(),
    )


def _overview(
    db: DbDep,
    settings: SettingsDep,
    actor: Actor,
    now: datetime,
    campaign_id: int,
    filters: Filters,
) -> MetricsRead:
    with db.session() as session:
        campaign = get_campaign(session, actor=actor, campaign_id=campaign_id)
        return service.get_overview(
            session,
            actor=actor,
            campaign_id=campaign.id,
            lake_path=settings.lake_path,
            now=now,
            **filters.scope(),
        )


@campaign_router.get("")
def dashboard(
    request: Request,
    campaign_id: Id,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    filters: FiltersDep,
    activity_title: str | None = None,
) -> Response:
    campaign = read(db, get_campaign, actor=actor, campaign_id=campaign_id)
    error = None
    data = None
    try:
        data = _overview(db, settings, actor, now, campaign_id, filters)
    except InvalidInput as exc:
        error = exc.message
    return render(
        request,
        "analytics/dashboard.html",
        {
            "campaign": campaign,
            "data": data.model_dump(mode="json") if data else None,
            "computed_label": local_time(data.computed_at, campaign.timezone, view.SECONDS)
            if data
            else "",
            "error": error,
            "filters": filters.form(),
            "query": urlencode(filters.given()),
            "activity_title": activity_title,
            "cards": view.cards(data),
            "charts": view.CHARTS,
            "names": {key: _(METRICS[key].name) for key in METRICS},
            "labels": view.labels() | {"campaign": campaign.name, "zone": campaign.timezone},
            "channels": list(Channel),
            "channel_labels": CHANNEL_LABELS,
            "formats": list(ExportFormat),
            "nav": "campaigns",
        },
        status_code=422 if error else 200,
    )


@campaign_router.get("/data")
def live_data(
    campaign_id: Id,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    filters: FiltersDep,
) -> JSONResponse:
    """The dashboard's numbers as JSON, polled by the page to stay live; a bad filter is a
    JSON error body (the page's script reads it), not the console's error page."""
    try:
        data = _overview(db, settings, actor, now, campaign_id, filters)
    except InvalidInput as exc:
        return JSONResponse(error_body(exc.code, exc.message, exc.field), status_code=422)
    return JSONResponse(data.model_dump(mode="json"))


@campaign_router.get("/export/{metric}.{fmt}")
def export(
    campaign_id: Id,
    metric: str,
    fmt: ExportFormat,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    filters: FiltersDep,
) -> Response:
    """One chart's data (the same numbers as the API) as CSV, Excel or Parquet."""
    answer = _metrics(db, settings, actor, now, campaign_id, [metric], filters)
    result = answer.metrics[metric]
    rows = result.rows if result.rows is not None else [{"metric": metric, "value": result.value}]
    columns = METRICS[metric].columns if result.rows is not None else ("metric", "value")
    filename = f"{answer.campaign.slug}-{metric}.{fmt.value}"
    return Response(
        export_rows(rows, fmt, sheet=metric, columns=columns),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- live ---------------------------------------------------------------------------------------


@campaign_router.get("/stream")
async def stream_overview(
    request: Request,
    campaign_id: Id,
    actor: ConsoleActor,
    db: DbDep,
    hub: HubDep,
    settings: SettingsDep,
    filters: FiltersDep,
) -> EventSourceResponse:
    """The dashboard's numbers as server-sent events: the current overview, then a new one
    whenever the campaign has new events (rung by the event writer after commit; at most once
    a second, see `live.py`)."""
    clock = request.app.state.clock

    def compute() -> dict[str, Any]:
        data = _overview(db, settings, actor, clock.now(), campaign_id, filters)
        return data.model_dump(mode="json")

    key = urlencode(sorted((k, str(v)) for k, v in filters.given().items()))
    return await live_response(
        request,
        hub=hub,
        db=db,
        channel=f"analytics:{campaign_id}:{key}",
        campaign_ids=[campaign_id],
        compute=compute,
        event="overview",
    )


# --- the live minute view -------------------------------------------------------------------


def _minutes(
    db: DbDep, settings: SettingsDep, actor: Actor, now: datetime, campaign_id: int
) -> dict[str, Any]:
    answer = _metrics(db, settings, actor, now, campaign_id, ["per_minute"])
    rows = answer.metrics["per_minute"].rows or []
    last = rows[-1] if rows else {"participants": 0, "interactions": 0}
    return {
        "rows": rows,
        "last_minute": last,
        "hour_interactions": sum(int(r["interactions"]) for r in rows),
        "computed_at": now.isoformat(),
    }


@campaign_router.get("/live")
def live_minutes_page(
    request: Request,
    campaign_id: Id,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    """What moves right now: participants and interactions per minute over the last hour."""
    campaign = read(db, get_campaign, actor=actor, campaign_id=campaign_id)
    return render(
        request,
        "analytics/live.html",
        {
            "campaign": campaign,
            "data": _minutes(db, settings, actor, now, campaign_id),
            "labels": {"participants": _("Participants"), "interactions": _("Interactions")},
            "formats": list(ExportFormat),
            "nav": "campaigns",
        },
    )


@campaign_router.get("/live/data")
def live_minutes_data(
    campaign_id: Id, actor: ConsoleActor, db: DbDep, settings: SettingsDep, now: NowDep
) -> JSONResponse:
    """The minute view as JSON (the page asks once a minute so quiet minutes show too)."""
    return JSONResponse(_minutes(db, settings, actor, now, campaign_id))


@campaign_router.get("/live/stream")
async def live_minutes_stream(
    request: Request,
    campaign_id: Id,
    actor: ConsoleActor,
    db: DbDep,
    hub: HubDep,
    settings: SettingsDep,
) -> EventSourceResponse:
    """The minute view as server-sent events, recomputed after new events (at most once a
    second, by the same watcher as the dashboard's)."""
    clock = request.app.state.clock

    def compute() -> dict[str, Any]:
        return _minutes(db, settings, actor, clock.now(), campaign_id)

    return await live_response(
        request,
        hub=hub,
        db=db,
        channel=f"analytics-minutes:{campaign_id}",
        campaign_ids=[campaign_id],
        compute=compute,
        event="minutes",
    )


# --- activities -----------------------------------------------------------------------------

ACTIVITY_METRICS = (
    "viewers",
    "participants",
    "interactions",
    "interaction_rate",
    "conversions",
    "ugc_count",
)


@campaign_router.get("/activities")
def activities_page(
    request: Request,
    campaign_id: Id,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    """Every activity of the campaign with its own figures (the registry, activity filter)."""
    with db.session() as session:
        campaign = get_campaign(session, actor=actor, campaign_id=campaign_id)
        activities = list_activities(session, actor=actor, campaign_id=campaign.id)
    rows = []
    for activity in activities:
        answer = _metrics(
            db,
            settings,
            actor,
            now,
            campaign.id,
            list(ACTIVITY_METRICS),
            Filters(activity=activity.id),
        )
        rows.append(
            {"activity": activity, "values": {k: m.value for k, m in answer.metrics.items()}}
        )
    return render(
        request,
        "analytics/activities.html",
        {
            "campaign": campaign,
            "rows": rows,
            "keys": ACTIVITY_METRICS,
            "names": {key: _(METRICS[key].name) for key in ACTIVITY_METRICS},
            "units": {key: METRICS[key].unit.value for key in ACTIVITY_METRICS},
            "kind_labels": KIND_LABELS,
            "nav": "campaigns",
        },
    )


@campaign_router.get("/activities/{activity_id}")
def activity_dashboard(
    request: Request,
    campaign_id: Id,
    activity_id: Id,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    since: Text = None,
    until: Text = None,
    channel: Text = None,
) -> Response:
    """One activity's dashboard: the campaign dashboard with the activity filter fixed."""
    activity = read(db, get_activity, actor=actor, activity_id=activity_id)
    if activity.campaign_id != campaign_id:
        raise NotFound(_("There is no such activity in this campaign."))
    return dashboard(
        request,
        campaign_id,
        actor,
        db,
        settings,
        now,
        Filters(since=since, until=until, channel=channel, activity=activity_id),
        activity_title=activity.title,
    )


# --- cross-campaign comparison ------------------------------------------------------------------


Campaigns = Annotated[list[str], Query(alias="campaign")]
Metrics = Annotated[list[str], Query(alias="metric")]


@dataclass(frozen=True, slots=True)
class CompareQuery:
    """What to compare, from the query string: campaign ids (each `campaign=`), metrics (each
    `metric=`; none is the default set) and the filters."""

    campaigns: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    channel: str | None = None

    def campaign_ids(self) -> list[int]:
        return service.parse_campaign_ids(list(self.campaigns))

    def compare(self, db: DbDep, settings: SettingsDep, actor: Actor, now: datetime) -> Comparison:
        return read(
            db,
            service.compare_campaigns,
            actor=actor,
            campaign_ids=self.campaign_ids(),
            keys=[m for m in self.metrics if m.strip()] or None,
            since=view.parse_time(self.since, "since"),
            until=view.parse_time(self.until, "until"),
            channel=self.channel or None,
            lake_path=settings.lake_path,
            now=now,
        )


def _compare_query(
    campaigns: Campaigns = [],  # noqa: B006 (FastAPI reads the default, never mutates it)
    metrics: Metrics = [],  # noqa: B006
    since: Text = None,
    until: Text = None,
    channel: Text = None,
) -> CompareQuery:
    return CompareQuery(tuple(campaigns), tuple(metrics), since, until, channel)


CompareDep = Annotated[CompareQuery, Depends(_compare_query)]


@workspace_router.get("/compare")
def compare_page(
    request: Request,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    query: CompareDep,
) -> Response:
    with db.session() as session:
        listed = list_campaigns(
            session, actor=actor, filters=CampaignFilter(include_archived=True), limit=200
        ).items
        zone = get_workspace_by_id(session, workspace_id=actor.workspace_id).timezone
    chosen = query.campaign_ids() if query.campaigns else []
    comparison = None
    error = None
    if query.campaigns:
        try:
            comparison = query.compare(db, settings, actor, now)
        except InvalidInput as exc:
            error = exc.message
    return render(
        request,
        "analytics/compare.html",
        {
            "campaigns": listed,
            "chosen": chosen,
            "comparison": comparison.model_dump(mode="json") if comparison else None,
            "computed_label": local_time(comparison.computed_at, zone, view.SECONDS)
            if comparison
            else "",
            "zone": zone,
            "error": error,
            "filters": {
                "since": query.since or "",
                "until": query.until or "",
                "channel": query.channel or "",
            },
            "query": str(request.url.query),
            "channels": list(Channel),
            "channel_labels": CHANNEL_LABELS,
            "formats": list(ExportFormat),
            "nav": "campaigns",
        },
        status_code=422 if error else 200,
    )


@workspace_router.get("/compare/stream")
async def compare_stream(
    request: Request,
    actor: ConsoleActor,
    db: DbDep,
    hub: HubDep,
    settings: SettingsDep,
    query: CompareDep,
) -> EventSourceResponse:
    """The comparison as server-sent events: now, then again whenever one of the compared
    campaigns has new events."""
    ids = query.campaign_ids()
    clock = request.app.state.clock

    def compute() -> dict[str, Any]:
        return query.compare(db, settings, actor, clock.now()).model_dump(mode="json")

    key = urlencode(sorted(request.query_params.multi_items()))
    return await live_response(
        request,
        hub=hub,
        db=db,
        channel=f"compare:{actor.workspace_id}:{key}",
        campaign_ids=ids,
        compute=compute,
        event="comparison",
    )


@workspace_router.get("/compare/export.{fmt}")
def compare_export(
    fmt: ExportFormat,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    query: CompareDep,
) -> Response:
    rows = service.comparison_rows(query.compare(db, settings, actor, now))
    return Response(
        export_rows(rows, fmt, sheet="compare"),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="compare.{fmt.value}"'},
    )


router = APIRouter(include_in_schema=False)
router.include_router(campaign_router)
router.include_router(workspace_router)
