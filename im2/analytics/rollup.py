"""The campaign's events rolled up per person and local day: the one input the people-and-day
metrics of the registry read (series, retention, new vs returning, AISAS, K-factor, cascades,
reach, coverage, media, revenue …).

`people`: one row per (actor_id, day, channel, has_ref, activity_id, in_window) with `bits`,
the OR of the kind-set bits (`SETS`) of the row's events, the counts and sums the metrics add
up, and what the share cascade needs (first touch, first referrer). Every column merges by an
associative aggregate (bit_or, sum, min, arg_min), so rows of the same key from several parts
(lake segments, the tail) may simply be listed together: the metrics aggregate anyway.
`hours`: views and participation events per (day, local hour, channel, activity_id,
in_window), for the hour-of-week map.

Why: each of the overview's metrics grouped ten million events by person on its own (0.3-1 s
each, 7 s together at 10 M); the rollup is ~30 % of the events' rows, built in one scan, and
the lake part never changes for a given lake mark (committed files are immutable), so it is
kept per mark (`LakeRollups`) and only the tail is rolled up per request.
"""

# SQL here is composed from EventKind constants, integers and table names of our own.
# ruff: noqa: S608

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from im2.analytics.kinds import (
    AISAS_ACTION,
    AISAS_ATTENTION,
    AISAS_INTEREST,
    CONVERSION_KINDS,
    INTERACTION_KINDS,
    PARTICIPATION_KINDS,
    REACH_KINDS,
    REFERRED_KINDS,
    VIEW_KINDS,
)
from im2.events.schemas import EventKind as K

# The kind sets a rollup row remembers, one bit each.
SETS: dict[str, tuple[str, ...]] = {
    "reach": REACH_KINDS,
    "viewed": VIEW_KINDS,
    "part": PARTICIPATION_KINDS,
    "inter": INTERACTION_KINDS,
    "shared": (K.SHARE_CREATED,),
    "conv": CONVERSION_KINDS,
    "att": AISAS_ATTENTION,
    "inte": AISAS_INTEREST,
    "act": AISAS_ACTION,
    "clicked": (K.SHARE_CLICKED,),
    "via": REFERRED_KINDS,
    "touch": (*PARTICIPATION_KINDS, K.SHARE_CLICKED),
}
BITS = {name: 1 << i for i, name in enumerate(SETS)}
HOUR_KINDS = (*REACH_KINDS, *PARTICIPATION_KINDS)
KEYS = ("actor_id", "day", "channel", "has_ref", "activity_id", "in_window")
HOUR_KEYS = ("day", "hour", "channel", "activity_id", "in_window")


def has(*names: str) -> str:
    """SQL: the rollup row holds an event of one of the named sets."""
    return f"(bits & {sum(BITS[n] for n in names)} <> 0)"


def _kinds_table() -> str:
    kinds = list(dict.fromkeys(k for members in SETS.values() for k in members))
    rows = ", ".join(
        f"('{k}', {sum(BITS[n] for n, members in SETS.items() if k in members)})" for k in kinds
    )
    return f"(VALUES {rows}) AS kind_bits(kind, bits)"


def people_sql(source: str) -> str:
    """The `people` rollup of `source` (a relation with `ev_hist`'s columns). Kinds in no set
    are left out. The bits come from one hash join on a table of the kinds: string IN-lists per
    set and row cost ~1.7× as much at 10 M events."""
    # A referral: an arrival (joined, share click) carrying someone else's referrer.
    referral = f"{has('via')} AND ref <> actor_id"
    return f"""
        SELECT {", ".join(KEYS[:3])}, ref IS NOT NULL AS has_ref, activity_id, in_window,
            bit_or(bits) AS bits,
            count(*) FILTER (WHERE {has("inter")}) AS n_inter,
            count(*) FILTER (WHERE {has("shared")}) AS n_share,
            count(*) FILTER (WHERE {has("conv")}) AS n_conv,
            sum(amount) FILTER (WHERE {has("conv")}) AS amount,
            bool_or({has("clicked")} OR ({has("viewed")} AND (ref IS NOT NULL OR searched)))
                AS s_hit,
            coalesce(bool_or({referral}), false) AS referred,
            min(occurred_at) FILTER (WHERE {has("touch")}) AS t_first,
            min(occurred_at) FILTER (WHERE {referral}) AS ref_t,
            arg_min(ref, occurred_at) FILTER (WHERE {referral}) AS ref_first
        FROM (SELECT * FROM {source} JOIN {_kinds_table()} USING (kind))
        GROUP BY ALL
    """


def merged_people_sql(table: str) -> str:
    """`table`'s people rows merged to one row per key (the aggregates of `people_sql`,
    applied to its own columns), `upto` the newest segment's."""
    return f"""
        SELECT {", ".join(KEYS)}, bit_or(bits) AS bits,
            CAST(sum(n_inter) AS BIGINT) AS n_inter, CAST(sum(n_share) AS BIGINT) AS n_share,
            CAST(sum(n_conv) AS BIGINT) AS n_conv, sum(amount) AS amount,
            bool_or(s_hit) AS s_hit, bool_or(referred) AS referred,
            min(t_first) AS t_first, min(ref_t) AS ref_t,
            arg_min(ref_first, ref_t) AS ref_first, max(upto) AS upto
        FROM {table} GROUP BY {", ".join(KEYS)}
    """


def hours_sql(source: str) -> str:
    """The `hours` rollup of `source`: events per local day and hour."""
    kinds = ", ".join(f"'{k}'" for k in dict.fromkeys(HOUR_KINDS))
    return f"""
        SELECT day, CAST(local_us // 3600000000 % 24 AS TINYINT) AS hour, channel, activity_id,
            in_window, count(*) AS n
        FROM {source} WHERE kind IN ({kinds}) GROUP BY ALL
    """


@dataclass
class _Cached:
    """One campaign's lake rollups in the process's DuckDB database (tables in `main`, shared
    by every cursor). Each move adds a segment: the rows of the files new since the last mark,
    tagged `upto` = that mark, so a reader at an older mark still sees exactly its files."""

    people: str
    hours: str
    files: frozenset[str]
    marks: list[int]
    events_of: Callable[[list[str]], str]
    readers: int = 0
    retired: bool = False


@dataclass
class LakeRollups:
    """The lake part of the rollups per (lake, campaign, time zone), kept across requests.

    `acquire` returns table names to read with `upto <= mark`; the caller must `release` them
    (tables evicted while read are dropped by their last reader). Builds, extensions and merges
    run outside the shared lock, under one lock per key: a campaign being rolled up (seconds at
    ten million events, e.g. by the warm-up job after a restart) holds up only requests for
    that same campaign, never a dashboard whose rollup is already kept."""

    max_cached: int = 4
    # Segments (moves) after which a campaign's rollup is merged to one row per key: each
    # move adds rows for keys already present (a person active in several batches of a day).
    max_segments: int = 16
    _entries: OrderedDict[tuple[str, int, str], _Cached] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _key_locks: dict[tuple[str, int, str], threading.Lock] = field(default_factory=dict)
    _names: itertools.count[int] = field(default_factory=itertools.count)

    def acquire(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        key: tuple[str, int, str],
        mark: int,
        files: list[str],
        events_of: Callable[[list[str]], str],
    ) -> tuple[str, str, Callable[[], None]]:
        """The rollup tables holding `files` (the lake's committed files at `mark`), built or
        extended through `events_of(files)` (SQL for those files' events) when needed."""
        wanted = frozenset(files)
        with self._lock:
            held = self._kept_at(key, mark)
            if held is not None:
                return self._held(con, held)
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                # Another request may have built it while this one waited for the key.
                held = self._kept_at(key, mark)
                if held is not None:
                    return self._held(con, held)
                entry = self._entries.get(key)
                own = False
                if entry is not None and mark > entry.marks[-1] and entry.files <= wanted:
                    entry.readers += 1  # kept from eviction while it is extended
                elif entry is not None and mark < entry.marks[-1] and wanted <= entry.files:
                    entry = None
                    own = True
                else:
                    # None yet, or files gone (a new lake at the same path): start over.
                    if entry is not None:
                        self._retire(con, key)
                    entry = None
            if not own:
                if entry is None:
                    built = self._build(con, mark, sorted(wanted), events_of)
                    with self._lock:
                        built.readers += 1
                        self._install(con, key, built)
                    return self._held(con, built)
                try:
                    self._append(con, entry, sorted(wanted - entry.files), mark)
                    merged = None
                    if len(entry.marks) > self.max_segments:
                        merged = self._merged(con, entry)
                except BaseException:
                    self._release(con, entry)
                    raise
                if merged is None:
                    return self._held(con, entry)  # the caller's read takes over the count
                with self._lock:
                    merged.readers += 1
                    self._install(con, key, merged)
                self._release(con, entry)
                return self._held(con, merged)
        # A request that read the mark just before a move: its own rollup, built outside the
        # key's lock and not kept (dropped at its release).
        own_rollup = self._build(con, mark, sorted(wanted), events_of)
        own_rollup.readers, own_rollup.retired = 1, True
        return self._held(con, own_rollup)

    def _kept_at(self, key: tuple[str, int, str], mark: int) -> _Cached | None:
        """The kept entry if it holds `mark`, counted as read (call with the lock held)."""
        entry = self._entries.get(key)
        if entry is None or mark not in entry.marks:
            return None
        self._entries.move_to_end(key)
        entry.readers += 1
        return entry

    def _install(
        self, con: duckdb.DuckDBPyConnection, key: tuple[str, int, str], entry: _Cached
    ) -> None:
        """Keep `entry` for `key` (call with the lock held), retiring what it replaces and the
        least recently used beyond `max_cached`."""
        if key in self._entries and self._entries[key] is not entry:
            self._retire(con, key)
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_cached:
            self._retire(con, next(iter(self._entries)))

    def _held(
        self, con: duckdb.DuckDBPyConnection, held: _Cached
    ) -> tuple[str, str, Callable[[], None]]:
        return held.people, held.hours, lambda: self._release(con, held)

    def _release(self, con: duckdb.DuckDBPyConnection, held: _Cached) -> None:
        with self._lock:
            held.readers -= 1
            if held.retired and held.readers == 0:
                _drop(con, held)

    def held(self) -> dict[tuple[str, int, str], int]:
        """The kept rollups' keys with the newest mark each holds, least recently used first."""
        with self._lock:
            return {key: entry.marks[-1] for key, entry in self._entries.items()}

    def clear(self, con: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            for key in list(self._entries):
                self._retire(con, key)

    def _build(
        self,
        con: duckdb.DuckDBPyConnection,
        mark: int,
        files: list[str],
        events_of: Callable[[list[str]], str],
    ) -> _Cached:
        n = next(self._names)
        entry = _Cached(
            people=f"main.rollup_people_{n}",
            hours=f"main.rollup_hours_{n}",
            files=frozenset(files),
            marks=[mark],
            events_of=events_of,
        )
        events = events_of(files)
        try:
            con.execute(
                f"CREATE TABLE {entry.people} AS SELECT *, {int(mark)} AS upto "
                f"FROM ({people_sql(f'({events})')})"
            )
            con.execute(
                f"CREATE TABLE {entry.hours} AS SELECT *, {int(mark)} AS upto "
                f"FROM ({hours_sql(f'({events})')})"
            )
        except BaseException:
            _drop(con, entry)
            raise
        return entry

    def _append(
        self, con: duckdb.DuckDBPyConnection, entry: _Cached, files: list[str], mark: int
    ) -> None:
        """Add the rows of `files` as the segment of `mark` (under the key's lock: readers at
        older marks never see them, they read `upto <= ` their mark)."""
        if files:
            events = entry.events_of(files)
            con.execute(
                f"INSERT INTO {entry.people} BY NAME SELECT *, {int(mark)} AS upto "
                f"FROM ({people_sql(f'({events})')})"
            )
            con.execute(
                f"INSERT INTO {entry.hours} BY NAME SELECT *, {int(mark)} AS upto "
                f"FROM ({hours_sql(f'({events})')})"
            )
        with self._lock:
            entry.files = entry.files | frozenset(files)
            entry.marks.append(mark)

    def _merged(self, con: duckdb.DuckDBPyConnection, entry: _Cached) -> _Cached:
        """New tables with one row per key and one segment (the last mark); requests still
        reading the old ones keep them until they release."""
        n = next(self._names)
        merged = _Cached(
            people=f"main.rollup_people_{n}",
            hours=f"main.rollup_hours_{n}",
            files=entry.files,
            marks=[entry.marks[-1]],
            events_of=entry.events_of,
        )
        con.execute(f"CREATE TABLE {merged.people} AS {merged_people_sql(entry.people)}")
        con.execute(
            f"CREATE TABLE {merged.hours} AS SELECT {', '.join(HOUR_KEYS)}, "
            f"CAST(sum(n) AS BIGINT) AS n, max(upto) AS upto FROM {entry.hours} "
            f"GROUP BY {', '.join(HOUR_KEYS)}"
        )
        return merged

    def _retire(self, con: duckdb.DuckDBPyConnection, key: tuple[str, int, str]) -> None:
        entry = self._entries.pop(key)
        entry.retired = True
        if entry.readers == 0:
            _drop(con, entry)


def _drop(con: duckdb.DuckDBPyConnection, entry: _Cached) -> None:
    con.execute(f"DROP TABLE IF EXISTS {entry.people}")
    con.execute(f"DROP TABLE IF EXISTS {entry.hours}")


LAKE_ROLLUPS = LakeRollups()
