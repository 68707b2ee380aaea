"""Metrics over people's journeys: retention cohorts, the AISAS funnel, K-factor and cascades,
the daily series, the hour-of-week heat map and KPI progress. Registered in the same registry
as `metrics.py` (which imports this module at its end)."""

# SQL here is composed from EventKind constants, integers and validated filters, never from
# raw user input (check_filters refuses unknown channels), so S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from im2.analytics.kinds import (
    AISAS_ACTION,
    AISAS_ATTENTION,
    AISAS_INTEREST,
    AISAS_SHARE,
    CONVERSION_KINDS,
    PARTICIPATION_KINDS,
    REACH_KINDS,
    REFERRED_KINDS,
)
from im2.analytics.kpi import linear_forecast
from im2.analytics.query import Query
from im2.analytics.registry import (
    AISAS_STAGES,
    AMOUNT,
    METRICS,
    Metric,
    MetricValue,
    Unit,
    daily,
    evaluate,
    register,
)
from im2.analytics.rollup import has
from im2.i18n import N_
from im2.sharing.cascade import (
    K_CONFIDENCE,
    K_WINDOW_SECONDS,
    ShareForest,
    build_forest,
    cascade_metrics,
    estimate_k,
)

RETENTION_DAYS = (1, 7, 30)


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else value


# --- retention ------------------------------------------------------------------------------


def _cohorts(q: Query) -> list[dict[str, Any]]:
    """Cohorts by the local day of a person's first participation inside the window; Dn is the
    share of the cohort active again exactly n days later. A cohort's Dn stays empty until day
    n has ended, so young cohorts do not drag the average down."""

    def compute() -> list[dict[str, Any]]:
        first_allowed = q.local_day(q.filters.since) if q.filters.since else date.min
        last_ended = q.local_day(q.end) - timedelta(days=1)
        q.rollup()
        rows = q.rows(
            "WITH a AS (SELECT DISTINCT actor_id, day FROM evr_hist "
            f"WHERE {has('part')} AND actor_id IS NOT NULL), "
            "f AS (SELECT actor_id, min(day) AS cohort FROM a GROUP BY actor_id) "
            "SELECT f.cohort, count(*) FILTER (WHERE a.day = f.cohort), "
            "count(*) FILTER (WHERE a.day = f.cohort + 1), "
            "count(*) FILTER (WHERE a.day = f.cohort + 7), "
            "count(*) FILTER (WHERE a.day = f.cohort + 30) "
            "FROM f JOIN a USING (actor_id) WHERE f.cohort >= ? GROUP BY f.cohort ORDER BY 1",
            [first_allowed],
        )
        out = []
        for cohort, size, *back in rows:
            row: dict[str, Any] = {"cohort": cohort.isoformat(), "size": int(size)}
            for n, returned in zip(RETENTION_DAYS, back, strict=True):
                mature = cohort + timedelta(days=n) <= last_ended
                row[f"d{n}"] = float(returned) / size * 100 if mature and size else None
                row[f"d{n}_returned"] = int(returned) if mature else None
            out.append(row)
        return out

    result: list[dict[str, Any]] = q.cached("cohorts", compute)
    return result


def _retention_table(q: Query) -> MetricValue:
    rows = _cohorts(q)
    return MetricValue(float(len(rows)), rows)


register(
    Metric(
        "retention_cohorts",
        N_("Retention cohorts"),
        N_(
            "Participants grouped by the day they first took part; D1, D7 and D30 are the share "
            "who took part again exactly 1, 7 and 30 days later (empty until that day has "
            "ended). The value is the number of cohorts."
        ),
        Unit.TABLE,
        PARTICIPATION_KINDS,
        _retention_table,
        columns=(
            "cohort",
            "size",
            "d1",
            "d1_returned",
            "d7",
            "d7_returned",
            "d30",
            "d30_returned",
        ),
    )
)


def _retention(n: int) -> Any:
    def compute(q: Query) -> MetricValue:
        mature = [r for r in _cohorts(q) if r[f"d{n}"] is not None]
        size = sum(r["size"] for r in mature)
        returned = sum(r[f"d{n}_returned"] for r in mature)
        return MetricValue(returned / size * 100 if size else None)

    return compute


for _n, _name in ((1, N_("D1 retention")), (7, N_("D7 retention")), (30, N_("D30 retention"))):
    register(
        Metric(
            f"retention_d{_n}",
            _name,
            N_(
                "Share of participants active again n days after their first day, over cohorts "
                "old enough."
            ),
            Unit.PERCENT,
            PARTICIPATION_KINDS,
            _retention(_n),
        )
    )


# --- AISAS ----------------------------------------------------------------------------------


def _aisas(q: Query) -> MetricValue:
    q.rollup()
    counts = q.one(
        "SELECT count(*) FILTER (WHERE a), count(*) FILTER (WHERE i), count(*) FILTER (WHERE s), "
        "count(*) FILTER (WHERE x), count(*) FILTER (WHERE h) FROM ("
        f"SELECT bool_or({has('att')}) AS a, bool_or({has('inte')}) AS i, "
        # Arrived through a share or search (s_hit: share.clicked, or a view with a referrer
        # or source=search), or viewed on two or more days (first and last view day differ).
        f"bool_or(s_hit) OR coalesce(min(day) FILTER (WHERE {has('viewed')}) "
        f"< max(day) FILTER (WHERE {has('viewed')}), false) "
        f"AS s, bool_or({has('act')}) AS x, bool_or({has('shared')}) AS h "
        "FROM evr WHERE actor_id IS NOT NULL GROUP BY actor_id)"
    )
    attention = float(counts[0] or 0)
    rows: list[dict[str, Any]] = []
    previous: float | None = None
    for (stage, name), count in zip(AISAS_STAGES, counts, strict=True):
        people = float(count or 0)
        rows.append(
            {
                "stage": stage,
                "name": name,
                "people": people,
                "of_attention": people / attention * 100 if attention else None,
                "of_previous": people / previous * 100 if previous else None,
            }
        )
        previous = people
    action: float | None = rows[3]["of_attention"]
    return MetricValue(action, rows)


register(
    Metric(
        "aisas_funnel",
        N_("AISAS funnel"),
        N_(
            "How many people reached each stage; a person can skip a stage, so a later stage "
            "can hold more people than the one before. Attention: saw the campaign, an "
            "activity or a friend's link. Interest: voted, answered, asked, commented, liked "
            "or checked in. Search: came through a friend's link or a search, or came back on "
            "another day. Action: joined, posted an entry, entered a draw or group-buy, used a "
            "coupon or bought. Share: made their own share link. The value is Action as a "
            "percent of Attention."
        ),
        Unit.PERCENT,
        tuple({*AISAS_ATTENTION, *AISAS_INTEREST, *AISAS_ACTION, *AISAS_SHARE}),
        _aisas,
        columns=("stage", "name", "people", "of_attention", "of_previous"),
    )
)


# --- K-factor and cascades ------------------------------------------------------------------


def _referral_counts(q: Query) -> tuple[int, int]:
    def compute() -> tuple[int, int]:
        q.rollup()
        # `referred`: a joined or share.clicked event with a referrer other than the person.
        participants, referred = q.one(
            "SELECT count(*) FILTER (WHERE p), count(*) FILTER (WHERE p AND r) FROM ("
            f"SELECT bool_or({has('part')}) AS p, bool_or(referred) AS r "
            "FROM evr WHERE actor_id IS NOT NULL GROUP BY actor_id)"
        )
        return int(participants or 0), int(referred or 0)

    result: tuple[int, int] = q.cached("referrals", compute)
    return result


def k_measured_until(q: Query) -> datetime:
    """Where the K-factor's observation ends: the window's end, or the campaign's end when that
    came first (after it nobody can bring anyone in any more)."""
    ends_at = q.campaign.ends_at
    return min(q.end, ends_at) if ends_at is not None else q.end


def _k_factor(q: Query) -> MetricValue:
    participants, referred = _referral_counts(q)
    until = k_measured_until(q)
    built = share_forest(q)
    k = (
        estimate_k(built[0], end=until.timestamp(), window=K_WINDOW_SECONDS)
        if built is not None
        else None
    )
    rows = [
        {
            "participants": participants,
            "invited_participants": referred,
            "shares": evaluate(q, "shares").value,
            "eligible_participants": k.eligible if k else 0,
            "brought_in_window": k.brought if k else 0,
            "window_days": K_WINDOW_SECONDS / 86_400,
            "measured_until": until.astimezone(UTC).isoformat(),
            "ci_low": _none_if_nan(k.ci_low) if k else None,
            "ci_high": _none_if_nan(k.ci_high) if k else None,
            "confidence": K_CONFIDENCE * 100,
        }
    ]
    return MetricValue(_none_if_nan(k.k_factor) if k else None, rows)


register(
    Metric(
        "k_factor",
        N_("K-factor"),
        N_(
            "New participants brought per participant who had the chance to bring any: over "
            "the participants who joined at least 3 days (the invitation window) before the "
            "end of the window or of the campaign, the mean number of people who joined "
            "through their share (first touch) within 3 days of them. Above 1 the campaign "
            "grows by itself. Empty until someone has had 3 days. The rows give the cohort "
            "(eligible_participants), the people they brought, and the 95 % confidence "
            "interval (ci_low, ci_high; normal approximation with the sample variance of "
            "each person's count)."
        ),
        Unit.RATIO,
        (*PARTICIPATION_KINDS, *REFERRED_KINDS),
        _k_factor,
        columns=(
            "participants",
            "invited_participants",
            "shares",
            "eligible_participants",
            "brought_in_window",
            "window_days",
            "measured_until",
            "ci_low",
            "ci_high",
            "confidence",
        ),
    )
)


# The campaign's share links (code -> the sharing participant's id), which the analytics
# service loads from the sharing domain: participants' events name a link by its code.
SHARE_LINKS = pa.schema([("code", pa.string()), ("sharer", pa.string())])


def share_links_table(owners: dict[str, int]) -> pa.Table:
    """`SHARE_LINKS` from {code: participant id}."""
    return pa.table(
        {
            "code": pa.array(list(owners), pa.string()),
            "sharer": pa.array([str(pid) for pid in owners.values()], pa.string()),
        },
        schema=SHARE_LINKS,
    )


def share_forest(q: Query) -> tuple[ShareForest, npt.NDArray[np.uint64]] | None:
    """The share forest (first touch), once per query, with each node's `hash(actor_id)` (a
    number, cheap to fetch, which `share_tree` resolves for the few nodes it draws); None
    without participants. A parent must have shown up strictly before the child, which also
    keeps bad data from forming cycles."""

    def compute() -> tuple[ShareForest, npt.NDArray[np.uint64]] | None:
        # Numbered people and their referrer's number, joined in SQL and fetched as arrays: a
        # Python loop over a dict of every participant cost more than the forest itself. The
        # rollup keeps each row's first touch (participation or share click) and first referral
        # (`ref_first` at `ref_t`).
        # Only participants are nodes (a visitor who clicked a link and never took part is
        # reach, not a member of the tree). A referrer is a share code, resolved to its sharer
        # through `SHARE_LINKS`, or in data without links (imported or synthetic streams) the
        # referring person's id itself.
        q.rollup()
        links = q.table("share_links", SHARE_LINKS)
        found = q.con.execute(
            "WITH p AS (SELECT actor_id, min(t_first) AS t FROM evr "
            "WHERE t_first IS NOT NULL AND actor_id IS NOT NULL GROUP BY actor_id "
            f"HAVING bool_or({has('part')})), "
            "r AS (SELECT actor_id, arg_min(ref_first, ref_t) AS ref FROM evr "
            "WHERE ref_t IS NOT NULL GROUP BY actor_id), "
            # MATERIALIZED: both references below must see the same numbering.
            "n AS MATERIALIZED (SELECT actor_id, epoch(t) AS t, "
            "CAST(row_number() OVER () - 1 AS BIGINT) AS i FROM p) "
            "SELECT c.i, c.t, coalesce(CASE WHEN par.t < c.t THEN par.i END, -1) AS parent, "
            "hash(c.actor_id) AS h "
            f"FROM n c LEFT JOIN r USING (actor_id) LEFT JOIN {links} l ON l.code = r.ref "
            "LEFT JOIN n par ON par.actor_id = coalesce(l.sharer, r.ref) "
            "ORDER BY c.i"
        ).fetchnumpy()
        if len(found["i"]) == 0:
            return None
        times = np.asarray(found["t"], dtype=np.float64)
        parent = np.asarray(found["parent"], dtype=np.int64)
        return build_forest(parent, time=times), np.asarray(found["h"], dtype=np.uint64)

    result: tuple[ShareForest, npt.NDArray[np.uint64]] | None = q.cached("share_forest", compute)
    return result


def _cascade(q: Query) -> MetricValue:
    built = share_forest(q)
    if built is None:
        return MetricValue(0.0, [])
    figures = cascade_metrics(built[0])
    forest = built[0]
    out = {
        "trees": figures.trees,
        "largest_tree": figures.largest_tree,
        "depth": figures.depth,
        "max_breadth": figures.max_breadth,
        "structural_virality": _none_if_nan(figures.structural_virality),
        "viral_cycle_hours": _none_if_nan(figures.viral_cycle_time / 3600),
        # Cascades in which someone came through a share (most trees are one person alone):
        # the count that agrees with the share tree being empty or not.
        "shared_trees": int(np.count_nonzero(forest.subtree_size[forest.roots] > 1)),
    }
    return MetricValue(float(figures.depth), [out])


register(
    Metric(
        "cascade",
        N_("Share cascades"),
        N_(
            "The share tree (first touch): number of trees (shared_trees: those in which "
            "someone came through a share), largest tree, depth, breadth, "
            "structural virality and median hours between a sharer joining and their invitee "
            "joining. The value is the depth of the deepest cascade."
        ),
        Unit.TABLE,
        (*PARTICIPATION_KINDS, *REFERRED_KINDS),
        _cascade,
        columns=(
            "trees",
            "largest_tree",
            "depth",
            "max_breadth",
            "structural_virality",
            "viral_cycle_hours",
            "shared_trees",
        ),
    )
)


# --- series and heat map --------------------------------------------------------------------


SERIES_KINDS = (*REACH_KINDS, *PARTICIPATION_KINDS, *CONVERSION_KINDS)


def _timeseries(q: Query) -> MetricValue:
    q.rollup()
    found = {
        row[0]: row[1:]
        # Distinct people per day in two steps (one row per day and person, then counted):
        # two count(DISTINCT) FILTER aggregates in one GROUP BY cost several times as much.
        for row in q.rows(
            "SELECT day, count(*) FILTER (WHERE r AND actor_id IS NOT NULL), "
            "count(*) FILTER (WHERE p AND actor_id IS NOT NULL), "
            "sum(i), sum(sh), sum(c), coalesce(sum(v), 0) FROM ("
            f"SELECT day, actor_id, bool_or({has('reach')}) AS r, bool_or({has('part')}) AS p, "
            f"sum(n_inter) AS i, sum(n_share) AS sh, sum(n_conv) AS c, sum({AMOUNT}) AS v "
            # Only rows with a series event: a day of other events alone is not a series day.
            f"FROM evr WHERE {has('reach', 'part', 'conv')} GROUP BY day, actor_id"
            ") GROUP BY day ORDER BY day"
        )
    }
    rows = []
    if found:
        # Days without events are shown as zeros, not skipped: a gap is news.
        day, last = min(found), max(found)
        while day <= last:
            reach, participants, interactions, shares, conversions, revenue = found.get(
                day, (0,) * 6
            )
            rows.append(
                {
                    "day": day.isoformat(),
                    "reach": int(reach),
                    "participants": int(participants),
                    "interactions": int(interactions),
                    "shares": int(shares),
                    "conversions": int(conversions),
                    "revenue": float(revenue),
                }
            )
            day += timedelta(days=1)
    return MetricValue(float(len(rows)), rows)


register(
    Metric(
        "timeseries",
        N_("Daily series"),
        N_(
            "Per local day: people reached, participants, interactions, shares, conversions "
            "and revenue."
        ),
        Unit.TABLE,
        SERIES_KINDS,
        _timeseries,
        columns=(
            "day",
            "reach",
            "participants",
            "interactions",
            "shares",
            "conversions",
            "revenue",
        ),
    )
)


def _hour_of_week(q: Query) -> MetricValue:
    # The rollup's `hours` rows count views and participation events per local day and hour.
    q.rollup()
    found = {
        (int(d), int(h)): int(n)
        for d, h, n in q.rows(
            # Local weekday by arithmetic on the day number (1970-01-01 was a Thursday, ISO
            # weekday 4).
            "SELECT (day - DATE '1970-01-01' + 3) % 7 + 1, hour, sum(n) FROM evh GROUP BY 1, 2"
        )
    }
    rows = [
        {"weekday": d, "hour": h, "events": found.get((d, h), 0)}
        for d in range(1, 8)
        for h in range(24)
    ]
    return MetricValue(float(max(found.values(), default=0)), rows)


register(
    Metric(
        "hour_of_week",
        N_("Hour-of-week activity"),
        N_(
            "Views and participation events per weekday (1 = Monday) and hour, in the campaign's "
            "time zone. The value is the busiest hour's count."
        ),
        Unit.TABLE,
        (*REACH_KINDS, *PARTICIPATION_KINDS),
        _hour_of_week,
        columns=("weekday", "hour", "events"),
    )
)


# --- KPI progress ---------------------------------------------------------------------------


def _forecast(q: Query, key: str, value: float | None, deadline: datetime | None) -> float | None:
    """Additive metrics follow their daily trend to the deadline; rates are assumed to hold."""
    if value is None or deadline is None:
        return None
    days_ahead = (deadline - q.end).total_seconds() / 86400
    increments = dict(daily(q, key))
    if METRICS[key].daily is None or not increments:
        return value
    day, last = min(increments) - timedelta(days=1), q.local_day(q.end)
    cumulative, total = [], 0.0
    while day <= last:
        total += increments.get(day, 0.0)
        cumulative.append(total)
        day += timedelta(days=1)
    # The trend is fitted on the series; the forecast starts from the value of the same window.
    return linear_forecast(cumulative, days_ahead) - total + value


def _kpis(q: Query) -> MetricValue:
    rows = []
    on_track = 0
    for plan in q.campaign.kpis:
        if plan.metric not in METRICS:
            continue
        # The daily series first: distinct-people metrics then sum it instead of a second scan.
        daily(q, plan.metric)
        value = evaluate(q, plan.metric).value
        deadline = plan.deadline or q.campaign.ends_at
        forecast = _forecast(q, plan.metric, value, deadline)
        reached = forecast if forecast is not None else value
        track = None if reached is None else reached >= plan.target
        on_track += bool(track)
        rows.append(
            {
                "metric": plan.metric,
                "name": METRICS[plan.metric].name,
                "unit": METRICS[plan.metric].unit.value,
                "target": plan.target,
                "value": value,
                "progress": None if value is None else value / plan.target * 100,
                "deadline": deadline.astimezone(UTC).isoformat() if deadline else None,
                "forecast": forecast,
                "on_track": track,
            }
        )
    return MetricValue(float(on_track), rows)


register(
    Metric(
        "kpi_progress",
        N_("KPI progress"),
        N_(
            "Each KPI target of the campaign: the metric's value, progress toward the target in "
            "percent, and a linear forecast at the deadline (the campaign's end when the target "
            "has none): counts follow the least-squares trend of the last 14 days, rates are "
            "assumed to hold. The value is the number of targets on track."
        ),
        Unit.COUNT,
        (),
        _kpis,
        columns=(
            "metric",
            "name",
            "unit",
            "target",
            "value",
            "progress",
            "deadline",
            "forecast",
            "on_track",
        ),
    )
)
