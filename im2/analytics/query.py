"""One campaign's events as DuckDB views over the lake plus the not-yet-moved tail.

Every metric reads the same two views, so every number includes the last committed second:

- `ev`: the campaign's events after every filter (time range, channel, activity);
- `ev_hist`: the same without the lower time bound, for metrics that must know what a
  participant did before the window (new vs returning, retention cohorts); its `in_window`
  column says whether a row is inside the window.

Both carry `day` and `local_ts`, the event's calendar day and wall-clock time in the campaign's
time zone, and `ref`, the referrer (the column, or `properties.referrer` when only that is set).

The lake is read for ids <= the mark and the database for ids above it, so an event moved
between the two reads is counted once (lake.py explains why that boundary is safe).
"""

# SQL here is composed from EventKind constants, integers and validated filters, never from
# raw user input (check_filters refuses unknown channels), so S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from im2.analytics.lake import lake_files, lake_glob

# DuckDB's own threads; the 2-core default machine serves requests on the rest.
DUCKDB_THREADS = 2


@dataclass(frozen=True, slots=True)
class ChannelPlan:
    channel: str
    media: str
    budget: float | None


@dataclass(frozen=True, slots=True)
class KpiPlan:
    metric: str
    target: float
    deadline: datetime | None


@dataclass(frozen=True, slots=True)
class Filters:
    since: datetime | None = None
    until: datetime | None = None
    channel: str | None = None
    activity_id: int | None = None


@dataclass(frozen=True, slots=True)
class CampaignFacts:
    """What metrics need to know about the campaign besides its events."""

    id: int
    timezone: str
    starts_at: datetime | None
    ends_at: datetime | None
    channels: tuple[ChannelPlan, ...]
    kpis: tuple[KpiPlan, ...] = ()


@dataclass
class Query:
    """A DuckDB connection holding the views above, and a memo so that each metric is computed
    once per request even when several others build on it."""

    con: duckdb.DuckDBPyConnection
    campaign: CampaignFacts
    filters: Filters
    now: datetime
    memo: dict[str, Any] = field(default_factory=dict)
    # Data besides the event log that a few metrics join to (e.g. UGC entries), loaded and
    # registered as a DuckDB view only when a metric asks for it (`table`).
    extras: dict[str, Callable[[], pa.Table]] = field(default_factory=dict)

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or []).fetchall()

    def one(self, sql: str, params: Sequence[Any] | None = None) -> tuple[Any, ...]:
        # fetchall, not fetchone: a half-read result blocks registering tables on DuckDB 2.
        rows = self.con.execute(sql, params or []).fetchall()
        assert rows  # aggregate queries always return one row
        return rows[0]

    def table(self, name: str, empty: pa.Schema) -> str:
        """Register the extra table `name` once (empty with `empty`'s columns when no loader
        was given) and return its name for SQL."""
        key = "table:" + name
        if key not in self.memo:
            load = self.extras.get(name)
            self.con.register(name, load() if load is not None else empty.empty_table())
            self.memo[key] = name
        registered: str = self.memo[key]
        return registered

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]

    @property
    def end(self) -> datetime:
        """The end of the window: the filter's upper bound, else now."""
        until = self.filters.until
        return min(until, self.now) if until is not None else self.now

    def local_day(self, when: datetime) -> date:
        row = self.one(
            "SELECT CAST(timezone(?, ?::TIMESTAMPTZ) AS DATE)", [self.campaign.timezone, when]
        )
        value: date = row[0]
        return value

    def close(self) -> None:
        self.con.close()


_base: duckdb.DuckDBPyConnection | None = None
_base_lock = threading.Lock()


def _connection() -> duckdb.DuckDBPyConnection:
    """A fresh cursor on the process's one in-memory DuckDB database. Opening a database costs
    ~15 ms, a cursor next to nothing; each cursor has its own session (settings, temporary
    views and tables, registered Arrow tables) and may be used by one thread at a time."""
    global _base
    with _base_lock:
        if _base is None:
            _base = duckdb.connect(config={"threads": DUCKDB_THREADS})
        return _base.cursor()


def _sql_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("'%Y-%m-%d %H:%M:%S.%f+00'::TIMESTAMPTZ")


def open_query(
    *,
    lake_path: Path,
    mark: int,
    tail: pa.Table,
    campaign: CampaignFacts,
    filters: Filters,
    now: datetime,
    materialize: bool = False,
) -> Query:
    """Set up the views for one campaign. `tail` holds the campaign's events with id > mark.

    With `materialize`, `ev_hist` is a temporary table filled by one scan of the lake (local
    times computed once) instead of a view that every metric re-scans: the right choice when
    many metrics are asked at once (the dashboard's overview), the wrong one for a single
    metric, which reads only the columns it needs straight from Parquet."""
    con = _connection()
    con.execute("SET SESSION TimeZone = 'UTC'")
    con.register("tail_events", tail)
    columns = (
        "id, occurred_at, campaign_id, activity_id, actor_type, actor_id, kind, channel, "
        "referrer, properties"
    )
    upper = "" if filters.until is None else f" AND occurred_at < {_sql_time(filters.until)}"
    if lake_files(lake_path):
        day_prune = ""
        if filters.until is not None:
            # Hive partition pruning: whole days after the window are never opened.
            day_prune = f" AND date <= CAST({_sql_time(filters.until)} AS DATE)"
        lake_sql = (
            f"SELECT {columns} FROM read_parquet('{lake_glob(lake_path)}', "
            f"hive_partitioning = true) WHERE campaign_id = {int(campaign.id)} "
            f"AND id <= {int(mark)}{day_prune}{upper}"
        )
    else:
        lake_sql = f"SELECT {columns} FROM tail_events WHERE false"
    where = ["true"]
    if filters.channel is not None:
        where.append(f"channel = {_quote(filters.channel)}")
    if filters.activity_id is not None:
        where.append(f"activity_id = {int(filters.activity_id)}")
    tz = _quote(campaign.timezone)
    in_window = "true" if filters.since is None else f"occurred_at >= {_sql_time(filters.since)}"
    # Temporary: views, tables and registered Arrow tables belong to this cursor alone, so
    # concurrent requests never see each other's.
    relation = "TEMP TABLE" if materialize else "TEMP VIEW"
    con.execute(
        f"""
        CREATE {relation} ev_hist AS
        SELECT *,
               timezone({tz}, occurred_at) AS local_ts,
               CAST(timezone({tz}, occurred_at) AS DATE) AS day,
               coalesce(referrer, CASE WHEN properties LIKE '%referrer%'
                   THEN json_extract_string(properties, '$.referrer') END) AS ref,
               {in_window} AS in_window
        FROM (
            {lake_sql}
            UNION ALL
            SELECT {columns} FROM tail_events WHERE true{upper}
        ) WHERE {" AND ".join(where)}
        """
    )
    # The lower bound is repeated as a plain comparison so that DuckDB pushes it into the scan.
    lower = "" if filters.since is None else f" WHERE occurred_at >= {_sql_time(filters.since)}"
    con.execute(f"CREATE TEMP VIEW ev AS SELECT * FROM ev_hist{lower}")
    return Query(con=con, campaign=campaign, filters=filters, now=now)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sql_list(values: Sequence[str]) -> str:
    """An SQL IN-list of constants (event kinds from the enum, never user input)."""
    return "(" + ", ".join(_quote(v) for v in values) + ")"
