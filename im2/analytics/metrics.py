"""The metrics, each defined here once, in the registry (`im2.analytics.registry`); the API,
the dashboard, the KPI check and the exports all call `evaluate`.

Identities: an event's `actor_id` is a participant id (actions) or a device ("d:<id>",
views and share clicks). The counts of people (participants, viewers, reach, coverage, media,
conversion rate) count persons (im2.people): `people_rows` maps each actor to its person, so
two devices of one person, or two participants merged by a verified phone, count once. Which
event kinds each metric reads is part of its definition (`kinds`), and so is the AISAS mapping
below.
"""

# SQL here is composed from EventKind constants, integers and validated filters, never from
# raw user input (check_filters refuses unknown channels), so S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from im2.analytics.kinds import (
    AISAS_SHARE,
    CONVERSION_KINDS,
    INTERACTION_KINDS,
    PARTICIPATION_KINDS,
    REACH_KINDS,
    VIEW_KINDS,
)
from im2.analytics.query import Query, sql_list
from im2.analytics.registry import (
    AISAS_STAGES,
    AMOUNT,
    METRICS,
    Metric,
    MetricValue,
    Series,
    Unit,
    daily,
    evaluate,
    register,
)
from im2.analytics.rollup import has
from im2.events.schemas import EventKind as K
from im2.i18n import N_

# The registry's names, which callers import from here too.
__all__ = [
    "AISAS_STAGES",
    "AMOUNT",
    "METRICS",
    "Metric",
    "MetricValue",
    "Series",
    "Unit",
    "daily",
    "evaluate",
    "register",
]

# A campaign's headline figures, one number each, and its dashboard charts, in the order every
# view shows them (the dashboard's cards and charts, its overview, comparisons of campaigns).
CHART_METRICS = (
    "timeseries",
    "aisas_funnel",
    "coverage_by_channel",
    "media_breakdown",
    "hour_of_week",
    "retention_cohorts",
)
HEADLINE_METRICS = (
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
)


def _num(value: Any) -> float:
    """Aggregates over no rows are NULL in SQL; a count or sum of nothing is zero."""
    return 0.0 if value is None else float(value)


def _ratio(
    numerator: float | None, denominator: float | None, scale: float = 100.0
) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator * scale


# The actor -> person map (im2.people.service.actor_persons): only actors of people with more
# than one device or participant; everyone else is counted under their actor id, which is
# exact for a count over one kind of actor. Loaded by the analytics service (`extras`).
PERSON_MAP = pa.schema([("actor_id", pa.string()), ("person", pa.string())])


def person_map_table(pairs: list[tuple[str, str]]) -> pa.Table:
    """`PERSON_MAP` from (actor id, person key) pairs."""
    return pa.table(
        {
            "actor_id": pa.array([a for a, _p in pairs], pa.string()),
            "person": pa.array([p for _a, p in pairs], pa.string()),
        },
        schema=PERSON_MAP,
    )


def people_rows(q: Query) -> str:
    """The rollup's rows (`evr`) with `actor_id` replaced by the person's key where the actor
    belongs to a person of several devices or participants; the name of that view."""
    if "view:evp" not in q.memo:
        q.rollup()
        persons = q.table("person_map", PERSON_MAP)
        if q.one(f"SELECT count(*) FROM {persons}")[0]:
            q.con.execute(
                "CREATE TEMP VIEW evp AS SELECT evr.* REPLACE "
                "(coalesce(m.person, evr.actor_id) AS actor_id) "
                f"FROM evr LEFT JOIN {persons} m ON m.actor_id = evr.actor_id"
            )
        else:
            q.con.execute("CREATE TEMP VIEW evp AS SELECT * FROM evr")
        q.memo["view:evp"] = True
    return "evp"


def _distinct(key: str, kind_set: str) -> Callable[[Query], MetricValue]:
    sql = f"SELECT count(DISTINCT actor_id) FROM evp WHERE {has(kind_set)}"

    def compute(q: Query) -> MetricValue:
        # When the daily series of new people is known already (KPI forecasts ask for it
        # first), the count is its sum: every person is new on exactly one day.
        series: Series | None = q.memo.get("daily:" + key)
        if series is not None:
            return MetricValue(float(sum(n for _d, n in series)))
        people_rows(q)
        return MetricValue(_num(q.one(sql)[0]))

    return compute


def _first_day(kind_set: str) -> Callable[[Query], Series]:
    """Daily new people: the day each person first shows up in the window."""
    sql = (
        "SELECT d, count(*) FROM (SELECT actor_id, min(day) AS d FROM evp "
        f"WHERE {has(kind_set)} AND actor_id IS NOT NULL GROUP BY actor_id) "
        "GROUP BY d ORDER BY d"
    )

    def compute(q: Query) -> Series:
        people_rows(q)
        return [(d, float(n)) for d, n in q.rows(sql)]

    return compute


def _count(kinds: tuple[str, ...], column: str | None) -> Callable[[Query], MetricValue]:
    if column is None:
        sql = f"SELECT count(*) FROM ev WHERE kind IN {sql_list(kinds)}"
    else:
        sql = f"SELECT sum({column}) FROM evr"

    def compute(q: Query) -> MetricValue:
        if column is not None:
            q.rollup()
        return MetricValue(_num(q.one(sql)[0]))

    return compute


def _count_daily(kinds: tuple[str, ...], column: str | None) -> Callable[[Query], Series]:
    if column is None:
        sql = (
            f"SELECT day, count(*) FROM ev WHERE kind IN {sql_list(kinds)} "
            "GROUP BY day ORDER BY day"
        )
    else:
        # Only days with such events, as counting the events themselves gives.
        sql = f"SELECT day, sum({column}) FROM evr WHERE {column} > 0 GROUP BY day ORDER BY day"

    def compute(q: Query) -> Series:
        if column is not None:
            q.rollup()
        return [(d, float(n)) for d, n in q.rows(sql)]

    return compute


def _counter(
    key: str, name: str, description: str, kinds: tuple[str, ...], column: str | None = None
) -> None:
    """A count of events of `kinds`; `column` is the rollup's count of them where it keeps
    one (im2.analytics.rollup), else the events are counted."""
    register(
        Metric(
            key,
            name,
            description,
            Unit.COUNT,
            kinds,
            _count(kinds, column),
            _count_daily(kinds, column),
            events=column is None,
        )
    )


register(
    Metric(
        "participants",
        N_("Participants"),
        N_("Distinct people who joined or interacted (voted, answered, submitted, shared …)."),
        Unit.COUNT,
        PARTICIPATION_KINDS,
        _distinct("participants", "part"),
        _first_day("part"),
    )
)
register(
    Metric(
        "viewers",
        N_("Unique viewers"),
        N_("Distinct people who opened the campaign or one of its activities."),
        Unit.COUNT,
        VIEW_KINDS,
        _distinct("viewers", "viewed"),
        _first_day("viewed"),
    )
)
register(
    Metric(
        "reach",
        N_("Reach"),
        N_("Distinct people who saw the campaign, including those who came through a share."),
        Unit.COUNT,
        REACH_KINDS,
        _distinct("reach", "reach"),
        _first_day("reach"),
    )
)
_counter(
    "interactions",
    N_("Interactions"),
    N_("Every vote, answer, submission, comment, like, entry and share."),
    INTERACTION_KINDS,
    "n_inter",
)
_counter(
    "ugc_count", N_("UGC submissions"), N_("User-generated works submitted."), (K.UGC_SUBMITTED,)
)
# UGC quality: what an entry is worth to the campaign, 0-100, from four parts with fixed weights.
UGC_WEIGHTS = {"approved": 35.0, "votes": 30.0, "media": 20.0, "length": 15.0}
UGC_VOTES_FULL = 20  # votes at which the votes part is full (log scale below it)
UGC_LENGTH_FULL = 140  # caption characters at which the length part is full
UGC_ENTRIES = pa.schema(
    [
        ("entry_id", pa.int64()),
        ("status", pa.string()),
        ("kind", pa.string()),
        ("votes", pa.int64()),
        ("caption_length", pa.int64()),
    ]
)


def _ugc_quality(q: Query) -> MetricValue:
    entries = q.table("ugc_entries", UGC_ENTRIES)
    w = UGC_WEIGHTS
    row = q.one(
        f"""
        WITH e AS (
            SELECT DISTINCT entry_id FROM ev WHERE kind = '{K.UGC_SUBMITTED.value}'
        ), parts AS (
            SELECT CASE WHEN x.status = 'approved' THEN 1.0 ELSE 0.0 END AS approved,
                   least(1.0, ln(1 + x.votes) / ln(1 + {UGC_VOTES_FULL})) AS votes_part,
                   x.votes,
                   CASE WHEN x.kind IN ('image', 'video') THEN 1.0 ELSE 0.0 END AS media,
                   least(1.0, x.caption_length / {UGC_LENGTH_FULL}.0) AS length_part,
                   x.caption_length
            FROM e JOIN {entries} x USING (entry_id)
        )
        SELECT count(*), avg(approved), avg(votes_part), avg(votes), avg(media),
               avg(length_part), avg(caption_length),
               avg({w["approved"]} * approved + {w["votes"]} * votes_part
                   + {w["media"]} * media + {w["length"]} * length_part)
        FROM parts
        """
    )
    n = int(row[0])
    if n == 0:
        return MetricValue(None, [])
    names = {
        "approved": N_("Approved share"),
        "votes": N_("Votes received"),
        "media": N_("Media present"),
        "length": N_("Caption length"),
    }
    parts = {"approved": row[1], "votes": row[2], "media": row[4], "length": row[5]}
    raw = {"approved": row[1], "votes": row[3], "media": row[4], "length": row[6]}
    rows = [
        {
            "component": key,
            "name": names[key],
            "weight": w[key],
            "average": float(raw[key]),
            "part": float(parts[key]),
            "points": float(parts[key]) * w[key],
        }
        for key in w
    ]
    return MetricValue(float(row[7]), rows)


register(
    Metric(
        "ugc_quality",
        N_("UGC quality score"),
        N_(
            "Average 0-100 score of the works submitted in the window. Each work scores 35 if "
            "approved, up to 30 for votes received (log scale, full at 20 votes), 20 if it has a "
            "picture or video, and up to 15 for its caption length (full at 140 characters). "
            "Reads ugc.submitted events and the entries' current status, votes and caption."
        ),
        Unit.SCORE,
        (K.UGC_SUBMITTED, K.UGC_MODERATED, K.UGC_VOTED),
        _ugc_quality,
        columns=("component", "name", "weight", "average", "part", "points"),
        events=True,
    )
)


_counter(
    "shares",
    N_("Shares"),
    N_("Share links or posters created by participants."),
    AISAS_SHARE,
    "n_share",
)
_counter(
    "conversions",
    N_("Conversions"),
    N_("Conversions recorded (orders, sign-ups …)."),
    CONVERSION_KINDS,
    "n_conv",
)


def _interaction_rate(q: Query) -> MetricValue:
    return MetricValue(_ratio(evaluate(q, "interactions").value, evaluate(q, "viewers").value))


register(
    Metric(
        "interaction_rate",
        N_("Interaction rate"),
        N_("Interactions per unique viewer, in percent (can exceed 100 %)."),
        Unit.PERCENT,
        (*INTERACTION_KINDS, *VIEW_KINDS),
        _interaction_rate,
    )
)


def _new_vs_returning(q: Query) -> MetricValue:
    q.rollup()
    new, returning = q.one(
        # One day or several: min(day) against max(day), not a count(DISTINCT day) per person.
        "SELECT count(*) FILTER (WHERE first = last), count(*) FILTER (WHERE first < last) "
        "FROM (SELECT actor_id, min(day) AS first, max(day) AS last, bool_or(in_window) AS seen "
        "FROM evr_hist "
        f"WHERE {has('part')} AND actor_id IS NOT NULL "
        "GROUP BY actor_id) WHERE seen"
    )
    new, returning = _num(new), _num(returning)
    rows = [
        {"segment": "new", "participants": new},
        {"segment": "returning", "participants": returning},
    ]
    return MetricValue(_ratio(returning, new + returning), rows)


register(
    Metric(
        "new_vs_returning",
        N_("New vs returning"),
        N_(
            "Participants of the window who took part on one day only (new) or on two or more "
            "days (returning); the value is the returning share in percent."
        ),
        Unit.PERCENT,
        PARTICIPATION_KINDS,
        _new_vs_returning,
        columns=("segment", "participants"),
    )
)


def _coverage(q: Query) -> MetricValue:
    # Per channel and in total (the reach metric's own count) in one scan: GROUPING SETS.
    people = people_rows(q)
    found = q.rows(
        "SELECT coalesce(channel, 'direct') AS c, count(DISTINCT actor_id) AS n, "
        f"grouping(c) AS total FROM {people} WHERE {has('reach')} "
        "GROUP BY GROUPING SETS ((c), ()) ORDER BY total, n DESC, c"
    )
    reach = next(float(n) for _c, n, total in found if total)
    if "metric:reach" in q.memo:
        reach = evaluate(q, "reach").value or 0.0
    else:
        q.memo["metric:reach"] = MetricValue(reach)
    out = [
        {"channel": c, "reach": float(n), "share": _ratio(float(n), reach)}
        for c, n, total in found
        if not total
    ]
    return MetricValue(float(len(out)), out)


register(
    Metric(
        "coverage_by_channel",
        N_("Coverage by channel"),
        N_(
            "Reach per channel and its share of total reach; a person seen on two channels counts "
            "on both. 'direct' is traffic without a channel. The value is the number of channels."
        ),
        Unit.TABLE,
        REACH_KINDS,
        _coverage,
        columns=("channel", "reach", "share"),
    )
)


def _media_case(q: Query) -> str:
    """Paid / owned / earned for an event: a share-borne event is earned whatever its channel;
    otherwise the campaign's plan for the channel decides; an unplanned channel is earned (people
    brought it there), and no channel at all is the brand's own page (owned)."""
    whens = [f"WHEN channel = '{p.channel}' THEN '{p.media}'" for p in q.campaign.channels]
    return (
        "CASE WHEN has_ref THEN 'earned' "
        + " ".join(whens)
        + " WHEN channel IS NULL THEN 'owned' ELSE 'earned' END"
    )


def _media(q: Query) -> MetricValue:
    # Distinct people per media type in two steps (one row per media and person, then
    # counted): several count(DISTINCT) FILTER aggregates in one GROUP BY cost ~4× as much.
    people = people_rows(q)
    found = {
        m: (reach, participants, conversions, revenue)
        for m, reach, participants, conversions, revenue in q.rows(
            "SELECT m, count(*) FILTER (WHERE r AND actor_id IS NOT NULL), "
            "count(*) FILTER (WHERE p AND actor_id IS NOT NULL), sum(c), sum(v) FROM ("
            f"SELECT {_media_case(q)} AS m, actor_id, bool_or({has('reach')}) AS r, "
            f"bool_or({has('part')}) AS p, sum(n_conv) AS c, sum({AMOUNT}) AS v "
            f"FROM {people} GROUP BY m, actor_id) GROUP BY m"
        )
    }
    rows: list[dict[str, Any]] = []
    for media in ("paid", "owned", "earned"):
        reach, participants, conversions, revenue = found.get(media, (0, 0, 0, 0))
        budget = sum(p.budget or 0.0 for p in _planned(q) if p.media == media)
        rows.append(
            {
                "media": media,
                "reach": _num(reach),
                "participants": _num(participants),
                "conversions": _num(conversions),
                "revenue": _num(revenue),
                "budget": budget,
            }
        )
    reach = [float(r["reach"]) for r in rows]
    return MetricValue(_ratio(reach[2], sum(reach)), rows)


def _planned(q: Query) -> list[Any]:
    channel = q.filters.channel
    return [p for p in q.campaign.channels if channel is None or p.channel == channel]


register(
    Metric(
        "media_breakdown",
        N_("Paid / owned / earned"),
        N_(
            "Reach, participants, conversions, revenue and budget by media type. Events that came "
            "through a share are earned; otherwise the campaign's channel plan decides; unplanned "
            "channels are earned and events without a channel owned. The value is the earned "
            "share of reach in percent."
        ),
        Unit.PERCENT,
        (*REACH_KINDS, *PARTICIPATION_KINDS, *CONVERSION_KINDS),
        _media,
        columns=("media", "reach", "participants", "conversions", "revenue", "budget"),
    )
)


def _conversion_rate(q: Query) -> MetricValue:
    people = people_rows(q)
    converters = _num(q.one(f"SELECT count(DISTINCT actor_id) FROM {people} WHERE n_conv > 0")[0])
    return MetricValue(_ratio(converters, evaluate(q, "reach").value))


register(
    Metric(
        "conversion_rate",
        N_("Conversion rate"),
        N_("Distinct people who converted per person reached, in percent."),
        Unit.PERCENT,
        (*CONVERSION_KINDS, *REACH_KINDS),
        _conversion_rate,
    )
)


def _revenue(q: Query) -> MetricValue:
    # The rollup's amount is the sum over conversions only.
    q.rollup()
    return MetricValue(_num(q.one(f"SELECT sum({AMOUNT}) FROM evr")[0]))


def _revenue_daily(q: Query) -> Series:
    q.rollup()
    return [
        (d, _num(v))
        for d, v in q.rows(
            f"SELECT day, sum({AMOUNT}) FROM evr WHERE n_conv > 0 GROUP BY day ORDER BY day"
        )
    ]


register(
    Metric(
        "revenue",
        N_("Revenue"),
        N_("Sum of the amount property of recorded conversions."),
        Unit.CURRENCY,
        CONVERSION_KINDS,
        _revenue,
        _revenue_daily,
    )
)


def _roi(q: Query) -> MetricValue:
    budget = sum(p.budget or 0.0 for p in _planned(q))
    revenue = evaluate(q, "revenue").value or 0.0
    # An engagement campaign records no revenue: its ROI does not apply (not −100 %).
    return MetricValue(_ratio(revenue - budget, budget) if budget and revenue else None)


register(
    Metric(
        "roi",
        N_("ROI"),
        N_(
            "(Revenue − channel budgets) / channel budgets, in percent; with a channel filter, "
            "only that channel's budget. Empty when no budget is set or no revenue was recorded."
        ),
        Unit.PERCENT,
        CONVERSION_KINDS,
        _roi,
    )
)

# The journey metrics (retention, AISAS, K-factor, series, KPIs) register in the same registry
# (im2.analytics.registry); imported last, so the registry lists them after the ones above.
from im2.analytics import metrics_journey as _journey  # noqa: E402,F401
