"""The one registry of metrics: what a metric is (`Metric`), its answer (`MetricValue`) and
`evaluate`. The metrics register themselves from `im2.analytics.metrics` and the modules beside
it; this module imports none of them, so they can build on one another without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from im2.analytics.query import Query
from im2.i18n import N_


class Unit(StrEnum):
    COUNT = "count"
    PERCENT = "percent"
    CURRENCY = "CNY"
    RATIO = "ratio"
    TABLE = "table"
    SCORE = "score"  # 0-100


AISAS_STAGES = (
    ("attention", N_("Attention (saw)")),
    ("interest", N_("Interest (interacted)")),
    ("search", N_("Search (came back or via share/search)")),
    ("action", N_("Action (participated or converted)")),
    ("share", N_("Share (shared)")),
)

# The `amount` property of an event (im2.analytics.query derives it from the JSON once).
AMOUNT = "amount"
Series = list[tuple[date, float]]


@dataclass(frozen=True, slots=True)
class MetricValue:
    """A metric's answer: a number (None when it cannot be defined, e.g. a rate over zero
    viewers), and for breakdowns the rows behind it."""

    value: float | None
    rows: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    name: str  # English msgid, marked with N_; shown through _()
    description: str
    unit: Unit
    kinds: tuple[str, ...]
    compute: Callable[[Query], MetricValue]
    # For additive metrics: the daily increments, from which KPI forecasts extrapolate.
    daily: Callable[[Query], Series] | None = None
    columns: tuple[str, ...] = field(default=())
    # Reads the events themselves (`ev`), not the rollup (im2.analytics.rollup): a request for
    # many such metrics scans the events once into a table (see service.MATERIALIZE_FROM).
    events: bool = False


METRICS: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    if metric.key in METRICS:
        raise ValueError(f"metric {metric.key!r} is defined twice")
    METRICS[metric.key] = metric
    return metric


def evaluate(q: Query, key: str) -> MetricValue:
    """The metric's value for the query's campaign and filters, computed once per query."""
    result: MetricValue = q.cached("metric:" + key, lambda: METRICS[key].compute(q))
    return result


def daily(q: Query, key: str) -> Series:
    fn = METRICS[key].daily
    if fn is None:
        return []
    result: Series = q.cached("daily:" + key, lambda: fn(q))
    return result
