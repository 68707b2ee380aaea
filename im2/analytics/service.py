"""Analytics operations: check the filters, open the campaign's events, ask the registry.

Read-only: nothing here writes, so callers use `Database.session()`.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy.orm import Session

from im2.activities.formats.ugc import service as ugc
from im2.activities.formats.ugc.schemas import EntryStatus
from im2.activities.schemas import ActivityKind
from im2.activities.service import get_activity, list_activities
from im2.analytics import metrics_ladder as _metrics_ladder  # registers ladder, advocates
from im2.analytics import metrics_live as _metrics_live  # noqa: F401 (registers per_minute)
from im2.analytics import metrics_tree as _metrics_tree  # noqa: F401 (registers share_tree)
from im2.analytics.lake import get_mark, read_events_after
from im2.analytics.metrics import (
    CHART_METRICS,
    HEADLINE_METRICS,
    METRICS,
    UGC_ENTRIES,
    Unit,
    evaluate,
    person_map_table,
)
from im2.analytics.metrics_journey import share_links_table
from im2.analytics.query import (
    CampaignFacts,
    ChannelPlan,
    Filters,
    KpiPlan,
    Query,
    open_query,
    sql_list,
)
from im2.analytics.schemas import (
    CampaignRef,
    ComparedMetric,
    Comparison,
    MetricInfo,
    MetricResult,
    MetricsRead,
)
from im2.campaigns.schemas import CampaignRead, Channel
from im2.campaigns.service import get_campaign
from im2.errors import InvalidInput, NotFound
from im2.i18n import N_, _
from im2.people import service as people
from im2.people.ladder import service as ladder
from im2.people.segments import service as segments
from im2.sharing import service as sharing
from im2.workspaces.schemas import Actor
from im2.workspaces.service import check_timezone

# What the campaign dashboard shows, in the order it shows it.
OVERVIEW_METRICS = (
    "kpi_progress",
    *HEADLINE_METRICS,
    "new_vs_returning",
    *CHART_METRICS,
    "cascade",
    "share_tree",
)
# From this many metrics that read the events themselves (not the rollup) in one request, the
# campaign's events are scanned once into a temporary table that they all read (`open_query`).
MATERIALIZE_FROM = 4
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_SPAN = timedelta(days=3660)
OUT_OF_RANGE = N_("Times must lie between 2000 and 2100.")


def list_metrics() -> list[MetricInfo]:
    return [
        MetricInfo(
            key=m.key,
            name=_(m.name),
            description=_(m.description),
            unit=m.unit.value,
            kinds=list(dict.fromkeys(str(k) for k in m.kinds)),
            columns=list(m.columns),
            forecastable=m.daily is not None,
        )
        for m in METRICS.values()
    ]


def check_metric_keys(keys: list[str]) -> list[str]:
    """Split comma lists, drop repeats, refuse unknown keys (naming the known ones)."""
    wanted = list(dict.fromkeys(k.strip() for part in keys for k in part.split(",") if k.strip()))
    if not wanted:
        raise InvalidInput(_("Name at least one metric."), field="metrics")
    unknown = [k for k in wanted if k not in METRICS]
    if unknown:
        raise InvalidInput(
            _("Unknown metric {name}; known metrics: {known}.").format(
                name=", ".join(unknown), known=", ".join(METRICS)
            ),
            field="metrics",
        )
    return wanted


def _aware(value: datetime | None, timezone: str, field: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=check_timezone(timezone))
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # Year 1 or 9999 shifted by a zone offset leaves what a datetime can hold.
        raise InvalidInput(_(OUT_OF_RANGE), field=field) from None


def check_filters(
    *,
    since: datetime | None,
    until: datetime | None,
    channel: str | None,
    activity_id: int | None,
    timezone: str,
) -> Filters:
    """Validate filters. Naive times are wall-clock times in the campaign's zone."""
    since_at, until_at = _aware(since, timezone, "since"), _aware(until, timezone, "until")
    for name, value in (("since", since_at), ("until", until_at)):
        if value is not None and not EARLIEST <= value <= LATEST:
            raise InvalidInput(_(OUT_OF_RANGE), field=name)
    if since_at is not None and until_at is not None:
        if until_at <= since_at:
            raise InvalidInput(_("The end of the range must be after its start."), field="until")
        if until_at - since_at > MAX_SPAN:
            raise InvalidInput(_("The range may span at most ten years."), field="until")
    if channel is not None and channel not in {c.value for c in Channel}:
        raise InvalidInput(
            _("Unknown channel {name}; known channels: {known}.").format(
                name=channel, known=", ".join(c.value for c in Channel)
            ),
            field="channel",
        )
    if activity_id is not None and activity_id <= 0:
        raise InvalidInput(_("Activity ids are positive numbers."), field="activity")
    return Filters(since=since_at, until=until_at, channel=channel, activity_id=activity_id)


def check_activity(session: Session, *, actor: Actor, campaign_id: int, activity_id: int) -> None:
    """Refuse an activity filter naming an activity outside the campaign: its figures would
    all be zero, which reads as "nobody took part" rather than "wrong activity"."""
    try:
        activity = get_activity(session, actor=actor, activity_id=activity_id)
    except NotFound:
        activity = None
    if activity is None or activity.campaign_id != campaign_id:
        raise InvalidInput(
            _("Activity {id} is not part of this campaign.").format(id=activity_id),
            field="activity",
        )


def _clean(value: Any) -> Any:
    """No NaN or infinity ever reaches a caller: JSON has no word for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _translated_name(row: dict[str, Any]) -> dict[str, Any]:
    label: str = row["name"]
    return {**row, "name": _(label)}


def get_metrics(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int,
    keys: list[str],
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
    activity_id: int | None = None,
    segment_id: int | None = None,
    lake_path: Path,
    now: datetime,
) -> MetricsRead:
    """The named metrics of a campaign, from the lake plus the events not moved yet; with a
    segment, only its people's events (their devices and participants, as of now).

    Raises NotFound/Forbidden as `get_campaign` does, InvalidInput for bad keys or filters.
    """
    campaign = get_campaign(session, actor=actor, campaign_id=campaign_id)
    wanted = check_metric_keys(keys)
    filters = check_filters(
        since=since,
        until=until,
        channel=channel,
        activity_id=activity_id,
        timezone=campaign.timezone,
    )
    if filters.activity_id is not None:
        check_activity(
            session, actor=actor, campaign_id=campaign.id, activity_id=filters.activity_id
        )
    segment = None
    if segment_id is not None:
        segment, actors = segments.segment_actor_ids(
            session,
            workspace_id=actor.workspace_id,
            segment_id=segment_id,
            now=now,
            field="segment",
        )
        filters = replace(filters, actors=tuple(actors))
    query = _open(
        session,
        actor=actor,
        campaign=campaign,
        filters=filters,
        lake_path=lake_path,
        now=now,
        materialize=sum(METRICS[k].events for k in wanted) >= MATERIALIZE_FROM,
    )
    mark, tail_rows = query.memo["_mark"], query.memo["_tail_rows"]
    try:
        results = {}
        for key in wanted:
            value = evaluate(query, key)
            metric = METRICS[key]
            rows = value.rows
            if rows and rows[0].get("name"):  # names marked with N_ in the registry
                rows = [_translated_name(r) for r in rows]
            results[key] = MetricResult(
                key=key,
                name=_(metric.name),
                unit=metric.unit.value,
                value=_clean(value.value),
                rows=_clean(rows),
            )
    finally:
        query.close()
    return MetricsRead(
        campaign=CampaignRef(
            id=campaign.id, slug=campaign.slug, name=campaign.name, timezone=campaign.timezone
        ),
        since=filters.since,
        until=filters.until,
        channel=filters.channel,
        activity_id=filters.activity_id,
        computed_at=now,
        lake_mark=mark,
        tail_events=tail_rows,
        metrics=results,
        segment=segment,
    )


def _open(
    session: Session,
    *,
    actor: Actor,
    campaign: CampaignRead,
    filters: Filters,
    lake_path: Path,
    now: datetime,
    materialize: bool = False,
) -> Query:
    """The campaign's events (lake up to the mark, the database after it) as DuckDB views."""
    mark = get_mark(session)
    tail = read_events_after(session, after_id=mark, campaign_id=campaign.id, until=filters.until)
    facts = CampaignFacts(
        id=campaign.id,
        timezone=campaign.timezone,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        channels=tuple(
            ChannelPlan(c.channel.value, c.media.value, c.budget) for c in campaign.channels
        ),
        kpis=tuple(
            KpiPlan(t.metric.value, t.target_value, t.deadline) for t in campaign.kpi_targets
        ),
    )
    query = open_query(
        lake_path=lake_path,
        mark=mark,
        tail=tail,
        campaign=facts,
        filters=filters,
        now=now,
        materialize=materialize,
    )
    query.memo["_mark"] = mark
    query.memo["_tail_rows"] = tail.num_rows
    query.extras["ugc_entries"] = lambda: _ugc_entries(session, actor=actor, campaign=campaign)
    query.extras["share_links"] = lambda: share_links_table(
        sharing.link_owners(session, campaign_id=campaign.id)
    )
    query.memo[_metrics_ladder.RULES] = ladder.get_rules(session, workspace_id=actor.workspace_id)
    query.extras[_metrics_ladder.EVERYONE] = lambda: person_map_table(
        people.actor_persons(session, workspace_id=actor.workspace_id, everyone=True)
    )
    query.extras["person_map"] = lambda: person_map_table(
        people.actor_persons(session, workspace_id=actor.workspace_id)
    )
    return query


def _ugc_entries(session: Session, *, actor: Actor, campaign: CampaignRead) -> pa.Table:
    """The campaign's UGC entries as they are now (status, votes, media, caption length), for
    the UGC quality score."""
    rows: dict[str, list[Any]] = {name: [] for name in UGC_ENTRIES.names}
    for activity in list_activities(session, actor=actor, campaign_id=campaign.id):
        if activity.kind != ActivityKind.UGC:
            continue
        for entry in ugc.entries_of(session, activity_id=activity.id, statuses=tuple(EntryStatus)):
            read = ugc.entry_read(entry)
            rows["entry_id"].append(read.id)
            rows["status"].append(read.status.value)
            rows["kind"].append(read.kind.value)
            rows["votes"].append(read.votes)
            rows["caption_length"].append(len(read.caption.strip()))
    return pa.table(rows, schema=UGC_ENTRIES)


def goal_reached(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int,
    kinds: list[str],
    exposures: dict[str, datetime],
    lake_path: Path,
    now: datetime,
) -> set[str]:
    """Which of the `exposures` (participant id -> when they were first shown something) did
    one of `kinds` at or after that moment, in the campaign's event log (lake plus tail).

    An event is credited to its participant (`actor_id`); a share click, whose actor is the
    clicking visitor, to the sharer whose link was clicked (`properties.sharer`).
    """
    campaign = get_campaign(session, actor=actor, campaign_id=campaign_id)
    if not exposures or not kinds:
        return set()
    query = _open(
        session, actor=actor, campaign=campaign, filters=Filters(), lake_path=lake_path, now=now
    )
    try:
        query.con.register(
            "exposed",
            pa.table(
                {
                    "pid": pa.array(list(exposures), pa.string()),
                    "at": pa.array(list(exposures.values()), pa.timestamp("us", tz="UTC")),
                }
            ),
        )
        rows = query.rows(
            f"""
            SELECT DISTINCT x.pid FROM exposed x JOIN (
                SELECT CASE WHEN kind = 'share.clicked'
                           THEN json_extract_string(properties, '$.sharer')
                           ELSE actor_id END AS pid,
                       occurred_at
                FROM ev WHERE kind IN {sql_list(kinds)}
            ) g ON g.pid = x.pid AND g.occurred_at >= x.at
            """  # noqa: S608 (kinds are EventKind values checked by the caller)
        )
    finally:
        query.close()
    return {str(r[0]) for r in rows}


def get_overview(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
    activity_id: int | None = None,
    segment_id: int | None = None,
    lake_path: Path,
    now: datetime,
) -> MetricsRead:
    """Everything the campaign dashboard shows (`OVERVIEW_METRICS`)."""
    return get_metrics(
        session,
        actor=actor,
        campaign_id=campaign_id,
        keys=list(OVERVIEW_METRICS),
        since=since,
        until=until,
        channel=channel,
        activity_id=activity_id,
        segment_id=segment_id,
        lake_path=lake_path,
        now=now,
    )


# Registry metrics that are one number per campaign, in the order comparisons show them.
COMPARE_METRICS = (*HEADLINE_METRICS, "ugc_count", "ugc_quality")
MAX_COMPARED = 8


def parse_campaign_ids(values: list[str]) -> list[int]:
    """Campaign ids from repeated and/or comma-separated query values."""
    ids = []
    for part in values:
        for raw in part.split(","):
            piece = raw.strip()
            if not piece:
                continue
            if not piece.isdigit():
                raise InvalidInput(
                    _("Campaign ids are numbers (got {value}).").format(value=piece),
                    field="campaigns",
                )
            ids.append(int(piece))
    return ids


def compare_campaigns(
    session: Session,
    *,
    actor: Actor,
    campaign_ids: list[int],
    keys: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
    lake_path: Path,
    now: datetime,
) -> Comparison:
    """The same registry metrics for several campaigns side by side (one `get_metrics` each).

    Table metrics (funnels, cohorts, series) have no single number to set side by side and are
    refused with the list of comparable ones."""
    ids = list(dict.fromkeys(campaign_ids))
    if len(ids) < 2:
        raise InvalidInput(_("Pick at least two campaigns to compare."), field="campaigns")
    if len(ids) > MAX_COMPARED:
        raise InvalidInput(
            _("At most {n} campaigns can be compared at once.").format(n=MAX_COMPARED),
            field="campaigns",
        )
    wanted = check_metric_keys(keys) if keys else list(COMPARE_METRICS)
    tables = [k for k in wanted if METRICS[k].unit == Unit.TABLE]
    if tables:
        raise InvalidInput(
            _("{name} is a table, not a number; comparable metrics: {known}.").format(
                name=", ".join(tables),
                known=", ".join(k for k, m in METRICS.items() if m.unit != Unit.TABLE),
            ),
            field="metrics",
        )
    answers = [
        get_metrics(
            session,
            actor=actor,
            campaign_id=campaign_id,
            keys=wanted,
            since=since,
            until=until,
            channel=channel,
            lake_path=lake_path,
            now=now,
        )
        for campaign_id in ids
    ]
    return Comparison(
        campaigns=[a.campaign for a in answers],
        metrics=[
            ComparedMetric(
                key=key,
                name=_(METRICS[key].name),
                unit=METRICS[key].unit.value,
                values=[a.metrics[key].value for a in answers],
            )
            for key in wanted
        ],
        since=answers[0].since,
        until=answers[0].until,
        channel=channel,
        computed_at=now,
    )


def comparison_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """The comparison as a flat table (one row per metric, one column per campaign slug)."""
    return [
        {"metric": m.key, "name": m.name, "unit": m.unit}
        | {c.slug: v for c, v in zip(comparison.campaigns, m.values, strict=True)}
        for m in comparison.metrics
    ]
