"""The live minute view: participants and interactions per minute over the last hour.

What a brand watches while a live stream or an event runs ("is the big screen moving?"). Read
from the same `ev` view as every other metric, so the last committed second is included.
"""

# SQL is composed from EventKind constants and integers only.
# ruff: noqa: S608

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from im2.analytics.kinds import INTERACTION_KINDS, PARTICIPATION_KINDS
from im2.analytics.metrics import (
    Metric,
    MetricValue,
    Unit,
    register,
)
from im2.analytics.query import Query, sql_list
from im2.i18n import N_

WINDOW_MINUTES = 60
_MINUTE_US = 60_000_000


def _per_minute(q: Query) -> MetricValue:
    end = q.end
    start = end - timedelta(minutes=WINDOW_MINUTES)
    found = {
        int(minute): (int(people), int(interactions))
        for minute, people, interactions in q.rows(
            f"SELECT local_us // {_MINUTE_US} AS minute, "
            f"count(DISTINCT actor_id) FILTER (WHERE kind IN {sql_list(PARTICIPATION_KINDS)}), "
            f"count(*) FILTER (WHERE kind IN {sql_list(INTERACTION_KINDS)}) "
            "FROM ev WHERE occurred_at > ? AND occurred_at <= ? GROUP BY minute",
            [start, end],
        )
    }
    # The local minute of `end`, so that every one of the last 60 minutes has a row (a quiet
    # minute is news on a live screen).
    offset = ZoneInfo(q.campaign.timezone).utcoffset(end) or timedelta(0)
    last = int((end.timestamp() + offset.total_seconds()) * 1_000_000) // _MINUTE_US
    rows: list[dict[str, object]] = []
    total = 0
    for minute in range(last - WINDOW_MINUTES + 1, last + 1):
        people, interactions = found.get(minute, (0, 0))
        total += interactions
        stamp = datetime.fromtimestamp(minute * 60, tz=UTC).replace(tzinfo=None)
        rows.append(
            {
                "minute": stamp.strftime("%H:%M"),
                "participants": people,
                "interactions": interactions,
            }
        )
    return MetricValue(float(total), rows)


register(
    Metric(
        "per_minute",
        N_("Last hour, per minute"),
        N_(
            "Per local minute over the last 60 minutes: distinct participants who acted and "
            "interactions (votes, answers, questions, entries …). The value is the hour's "
            "interactions."
        ),
        Unit.TABLE,
        PARTICIPATION_KINDS,
        _per_minute,
        columns=("minute", "participants", "interactions"),
        events=True,
    )
)
