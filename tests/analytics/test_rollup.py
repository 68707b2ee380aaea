"""The rollup that the people-and-day metrics read gives the answers the raw events give.

Given a synthetic campaign in a daylight-saving zone (Berlin, across the March change), its
events split between lake files of two moves and a tail not yet moved, the registry's answers
are compared with queries written straight over the raw events (ICU local days, the metrics'
documented kind sets), for the lake alone, the lake plus a tail, a lake rollup extended by a
second move, whole-day and mid-day windows and a channel filter.
"""

# SQL in this test is built from constants.
# ruff: noqa: S608

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from im2.analytics.kinds import (
    AISAS_ACTION,
    AISAS_INTEREST,
    CONVERSION_KINDS,
    INTERACTION_KINDS,
    PARTICIPATION_KINDS,
    REACH_KINDS,
    VIEW_KINDS,
)
from im2.analytics.lake import write_batch
from im2.analytics.metrics import evaluate
from im2.analytics.query import (
    CampaignFacts,
    ChannelPlan,
    Filters,
    committed_files,
    lake_events_of,
    open_query,
)
from im2.analytics.rollup import LAKE_ROLLUPS, LakeRollups
from im2.analytics.synth import generate_events
from im2.events.service import EVENT_ARROW_SCHEMA

ZONE = "Europe/Berlin"
START = datetime(2026, 3, 20, tzinfo=UTC)  # the change to summer time is on 29 March
NOW = datetime(2026, 5, 1, tzinfo=UTC)
FACTS = CampaignFacts(
    id=1,
    timezone=ZONE,
    starts_at=START,
    ends_at=NOW,
    channels=(ChannelPlan("weibo", "paid", 1000.0), ChannelPlan("wechat", "owned", None)),
)
EVENTS = 6000
FIRST_MOVE, SECOND_MOVE = 3000, 4500  # ids in the lake after each move; the rest is the tail


def _kinds(kinds: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{k}'" for k in dict.fromkeys(kinds)) + ")"


@pytest.fixture(scope="module")
def events() -> pa.Table:
    table = generate_events(events=EVENTS, start=START, days=20, utc_offset_hours=1, seed=5)
    # Some views arrive through search, some events come from outside the campaign's plan.
    ids = table.column("id").to_pylist()
    props = table.column("properties").to_pylist()
    kinds = table.column("kind").to_pylist()
    for i, kind in enumerate(kinds):
        if kind in VIEW_KINDS and ids[i] % 7 == 0:
            props[i] = '{"source": "search"}'
    return table.set_column(
        table.schema.get_field_index("properties"), "properties", pa.array(props, pa.string())
    )


def expected(events: pa.Table, filters: Filters) -> dict[str, Any]:
    """The overview's numbers straight from the raw events (one query per number)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("raw", events)
    window = ["true"]
    if filters.since is not None:
        window.append(f"occurred_at >= '{filters.since.isoformat()}'")
    hist = ["true"]
    if filters.until is not None:
        hist.append(f"occurred_at < '{filters.until.isoformat()}'")
    if filters.channel is not None:
        hist.append(f"channel = '{filters.channel}'")
    con.execute(
        f"""CREATE VIEW h AS SELECT *, CAST(timezone('{ZONE}', occurred_at) AS DATE) AS day,
        coalesce(referrer, json_extract_string(properties, '$.referrer')) AS ref,
        TRY_CAST(json_extract_string(properties, '$.amount') AS DOUBLE) AS amount,
        coalesce(json_extract_string(properties, '$.source') = 'search', false) AS searched,
        {" AND ".join(window)} AS in_window
        FROM raw WHERE {" AND ".join(hist)}"""
    )
    con.execute("CREATE VIEW e AS SELECT * FROM h WHERE in_window")
    part, reach, conv = _kinds(PARTICIPATION_KINDS), _kinds(REACH_KINDS), _kinds(CONVERSION_KINDS)
    views, inter = _kinds(VIEW_KINDS), _kinds(INTERACTION_KINDS)

    def one(sql: str) -> Any:
        return con.execute(sql).fetchall()[0][0]

    series = con.execute(
        f"SELECT day, count(DISTINCT actor_id) FILTER (WHERE kind IN {reach}), "
        f"count(DISTINCT actor_id) FILTER (WHERE kind IN {part}), "
        f"count(*) FILTER (WHERE kind IN {inter}), "
        "count(*) FILTER (WHERE kind = 'share.created'), "
        f"count(*) FILTER (WHERE kind IN {conv}) FROM e "
        f"WHERE kind IN {reach} OR kind IN {part} OR kind IN {conv} GROUP BY day ORDER BY day"
    ).fetchall()
    people = con.execute(
        f"""SELECT count(*) FILTER (WHERE a), count(*) FILTER (WHERE i),
        count(*) FILTER (WHERE s), count(*) FILTER (WHERE x), count(*) FILTER (WHERE sh),
        count(*) FILTER (WHERE p), count(*) FILTER (WHERE p AND r) FROM (
          SELECT bool_or(kind IN {reach}) a, bool_or(kind IN {_kinds(AISAS_INTEREST)}) i,
            bool_or(kind = 'share.clicked'
                    OR (kind IN {views} AND (ref IS NOT NULL OR searched)))
            OR count(DISTINCT day) FILTER (WHERE kind IN {views}) >= 2 s,
            bool_or(kind IN {_kinds(AISAS_ACTION)}) x, bool_or(kind = 'share.created') sh,
            bool_or(kind IN {part}) p,
            bool_or(kind IN ('participant.joined', 'share.clicked') AND ref <> actor_id) r
          FROM e WHERE actor_id IS NOT NULL GROUP BY actor_id)"""
    ).fetchall()[0]
    new_returning = con.execute(
        "SELECT count(*) FILTER (WHERE n = 1), count(*) FILTER (WHERE n > 1) FROM ("
        "SELECT count(DISTINCT day) AS n, bool_or(in_window) AS seen FROM h "
        f"WHERE kind IN {part} AND actor_id IS NOT NULL GROUP BY actor_id) WHERE seen"
    ).fetchall()[0]
    coverage = con.execute(
        "SELECT coalesce(channel, 'direct') c, count(DISTINCT actor_id) FROM e "
        f"WHERE kind IN {reach} GROUP BY c"
    ).fetchall()
    hours = con.execute(
        f"SELECT isodow(timezone('{ZONE}', occurred_at)), hour(timezone('{ZONE}', occurred_at)),"
        f" count(*) FROM e WHERE kind IN {reach} OR kind IN {part} GROUP BY 1, 2"
    ).fetchall()
    cohorts = con.execute(
        f"WITH a AS (SELECT DISTINCT actor_id, day FROM h WHERE kind IN {part} "
        "AND actor_id IS NOT NULL), f AS (SELECT actor_id, min(day) c FROM a GROUP BY 1) "
        "SELECT c, count(*) FILTER (WHERE day = c), count(*) FILTER (WHERE day = c + 1) "
        "FROM f JOIN a USING (actor_id) "
        # Cohorts that start inside the window.
        f"WHERE c >= CAST(timezone('{ZONE}', '{(filters.since or START).isoformat()}'::TIMESTAMPTZ)"
        " AS DATE) GROUP BY c ORDER BY c"
    ).fetchall()
    media = con.execute(
        "SELECT m, count(DISTINCT actor_id) FILTER (WHERE kind IN " + reach + ") FROM ("
        "SELECT *, CASE WHEN ref IS NOT NULL THEN 'earned' WHEN channel = 'weibo' THEN 'paid' "
        "WHEN channel = 'wechat' THEN 'owned' WHEN channel IS NULL THEN 'owned' "
        "ELSE 'earned' END m FROM e) GROUP BY m"
    ).fetchall()
    return {
        "participants": one(f"SELECT count(DISTINCT actor_id) FROM e WHERE kind IN {part}"),
        "reach": one(f"SELECT count(DISTINCT actor_id) FROM e WHERE kind IN {reach}"),
        "interactions": one(f"SELECT count(*) FROM e WHERE kind IN {inter}"),
        "conversions": one(f"SELECT count(*) FROM e WHERE kind IN {conv}"),
        "converters": one(f"SELECT count(DISTINCT actor_id) FROM e WHERE kind IN {conv}"),
        "revenue": one(f"SELECT coalesce(sum(amount), 0) FROM e WHERE kind IN {conv}"),
        "series": [(d.isoformat(), *map(int, rest)) for d, *rest in series],
        "aisas": [int(n) for n in people[:5]],
        "k": (int(people[5]), int(people[6])),
        "new_returning": [float(n) for n in new_returning],
        "coverage": {c: float(n) for c, n in coverage},
        "hours": {(int(d), int(h)): int(n) for d, h, n in hours},
        "cohorts": [(c.isoformat(), int(size), int(d1)) for c, size, d1 in cohorts],
        "media_reach": {m: float(n) for m, n in media},
    }


def answers(lake: Path, mark: int, tail: pa.Table, filters: Filters) -> dict[str, Any]:
    """The same numbers through the registry."""
    q = open_query(lake_path=lake, mark=mark, tail=tail, campaign=FACTS, filters=filters, now=NOW)
    try:
        value = {k: evaluate(q, k) for k in ("timeseries", "aisas_funnel", "k_factor")}
        for key in (
            "participants",
            "reach",
            "interactions",
            "conversions",
            "conversion_rate",
            "revenue",
            "new_vs_returning",
            "coverage_by_channel",
            "hour_of_week",
            "retention_cohorts",
            "media_breakdown",
            "cascade",
            "kpi_progress",
        ):
            value[key] = evaluate(q, key)
    finally:
        q.close()
    rows = {k: v.rows or [] for k, v in value.items()}
    reach = value["reach"].value or 0.0
    rate = value["conversion_rate"].value
    return {
        "participants": value["participants"].value,
        "reach": reach,
        "interactions": value["interactions"].value,
        "conversions": value["conversions"].value,
        "converters": round(rate * reach / 100) if rate is not None else 0,
        "revenue": value["revenue"].value,
        "series": [
            (
                r["day"],
                r["reach"],
                r["participants"],
                r["interactions"],
                r["shares"],
                r["conversions"],
            )
            for r in rows["timeseries"]
            # The registry fills quiet days with zeros; the raw query has no row for them.
            if any(r[c] for c in ("reach", "participants", "interactions", "conversions"))
            or r["shares"]
        ],
        "aisas": [int(r["people"]) for r in rows["aisas_funnel"]],
        "k": (rows["k_factor"][0]["participants"], rows["k_factor"][0]["invited_participants"]),
        "new_returning": [r["participants"] for r in rows["new_vs_returning"]],
        "coverage": {r["channel"]: r["reach"] for r in rows["coverage_by_channel"]},
        "hours": {
            (r["weekday"], r["hour"]): r["events"] for r in rows["hour_of_week"] if r["events"]
        },
        "cohorts": [(r["cohort"], r["size"], r["d1_returned"]) for r in rows["retention_cohorts"]],
        "media_reach": {r["media"]: r["reach"] for r in rows["media_breakdown"] if r["reach"]},
        "cascade": rows["cascade"],
    }


def _rows(events: pa.Table, low: int, high: int) -> pa.Table:
    ids = events.column("id").to_numpy()
    return events.filter(pa.array((ids > low) & (ids <= high)))


def _same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got["revenue"] == pytest.approx(want["revenue"])
    # D1 stays empty until the cohort's next day has ended (inside the window).
    cohorts = [
        (c, size, d1 if ours is not None else None)
        for (c, size, d1), (_c, _s, ours) in zip(want["cohorts"], got["cohorts"], strict=True)
    ]
    assert got["cohorts"] == cohorts
    for key in want:
        if key not in ("revenue", "cohorts"):
            assert got[key] == want[key], key


WINDOWS = {
    "everything": Filters(),
    # Whole local days (Berlin midnight, before and after the change): the kept lake rollup.
    "whole days": Filters(
        since=datetime(2026, 3, 24, 23, tzinfo=UTC), until=datetime(2026, 4, 3, 22, tzinfo=UTC)
    ),
    # Starts and ends inside a day: the request's own rollup of the events.
    "mid-day": Filters(
        since=datetime(2026, 3, 25, 9, 30, tzinfo=UTC), until=datetime(2026, 4, 2, 17, tzinfo=UTC)
    ),
    "one channel": Filters(channel="weibo"),
}


@pytest.mark.parametrize("merged", [False, True], ids=["segments", "merged"])
@pytest.mark.parametrize("window", list(WINDOWS))
def test_the_rollup_answers_what_the_raw_events_answer(
    events: pa.Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: str, merged: bool
) -> None:
    if merged:
        # Every move's segment merged into the kept rollup at once.
        monkeypatch.setattr(LAKE_ROLLUPS, "max_segments", 1)
    filters = WINDOWS[window]
    lake = tmp_path / "lake"
    empty = EVENT_ARROW_SCHEMA.empty_table()
    want_all = expected(events, filters)
    write_batch(lake, _rows(events, 0, FIRST_MOVE))

    # The lake of the first move plus the rest as a tail.
    first = answers(lake, FIRST_MOVE, _rows(events, FIRST_MOVE, EVENTS), filters)
    _same(first, want_all)
    # The lake alone at that mark.
    _same(
        answers(lake, FIRST_MOVE, empty, filters), expected(_rows(events, 0, FIRST_MOVE), filters)
    )

    # A second move extends the kept rollup; then everything is in the lake.
    write_batch(lake, _rows(events, FIRST_MOVE, SECOND_MOVE))
    second = answers(lake, SECOND_MOVE, _rows(events, SECOND_MOVE, EVENTS), filters)
    _same(second, want_all)
    write_batch(lake, _rows(events, SECOND_MOVE, EVENTS))
    last = answers(lake, EVENTS, empty, filters)
    _same(last, want_all)
    # The share cascade has no raw-query twin here: every split of the events gives the same
    # (up to the order in which parallel aggregation adds floating-point terms).
    for split in (second, last):
        assert split["cascade"] == [pytest.approx(row) for row in first["cascade"]]
    # A request that read the older mark after the rollup moved on still sees its own files.
    _same(
        answers(lake, FIRST_MOVE, empty, filters), expected(_rows(events, 0, FIRST_MOVE), filters)
    )


def test_the_synthetic_campaign_crosses_the_change_and_has_every_kind_of_row(
    events: pa.Table,
) -> None:
    want = expected(events, Filters())
    days = [d for d, *_rest in want["series"]]
    assert days[0] < "2026-03-29" < days[-1]
    assert all(want["aisas"])
    assert want["k"][1] > 0
    assert want["new_returning"][1] > 0
    assert {"paid", "owned", "earned"} <= set(want["media_reach"])


def test_rolling_up_one_campaign_holds_up_no_dashboard_of_another(
    events: pa.Table, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    write_batch(lake, events)
    files = [f for f, _day in committed_files(lake, mark=EVENTS)]
    rollups, database = LakeRollups(), duckdb.connect()
    watched = (str(lake), 2, ZONE)
    *_tables, release = rollups.acquire(
        database.cursor(), key=watched, mark=EVENTS, files=files, events_of=lake_events_of(2, ZONE)
    )
    release()
    building, served = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def slow_events_of(some: list[str]) -> str:
        building.set()
        # The watched campaign's dashboard is served while this build is under way.
        outcome["served_meanwhile"] = served.wait(10)
        return lake_events_of(1, ZONE)(some)

    def first_request() -> None:
        *_tables, done = rollups.acquire(
            database.cursor(),
            key=(str(lake), 1, ZONE),
            mark=EVENTS,
            files=files,
            events_of=slow_events_of,
        )
        done()

    builder = threading.Thread(target=first_request)
    builder.start()
    assert building.wait(10)
    *_tables, release = rollups.acquire(
        database.cursor(), key=watched, mark=EVENTS, files=files, events_of=lake_events_of(2, ZONE)
    )
    release()
    served.set()
    builder.join(60)

    assert outcome == {"served_meanwhile": True}
    assert set(rollups.held()) == {watched, (str(lake), 1, ZONE)}


def test_requests_that_arrive_together_build_one_rollup(events: pa.Table, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_batch(lake, events)
    files = [f for f, _day in committed_files(lake, mark=EVENTS)]
    rollups, database = LakeRollups(), duckdb.connect()
    builds: list[int] = []
    start = threading.Barrier(4)
    tables: list[str] = []

    def counted(some: list[str]) -> str:
        builds.append(len(some))
        return lake_events_of(1, ZONE)(some)

    def request() -> None:
        start.wait()
        people, _hours, release = rollups.acquire(
            database.cursor(), key=(str(lake), 1, ZONE), mark=EVENTS, files=files, events_of=counted
        )
        tables.append(people)
        release()

    threads = [threading.Thread(target=request) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(builds) == 1
    assert len(tables) == 4
    assert len(set(tables)) == 1  # all four read the one kept rollup
