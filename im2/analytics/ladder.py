"""The closeness ladder computed from the event log (lake plus tail), per workspace and campaign.

Who is where (docs/people.md, "The closeness ladder"), for a subject (a person, or a device no
person holds) in a scope (the workspace, or one campaign):

- 旁观者 bystander: any event of the scope (seen);
- 参与者 participant: took part (`ACTING_KINDS`);
- 传播者 spreader: took part, shared, and brought at least `spreader_min_brought` people: a
  friend counts once, from their first action whose referrer is the subject's share link (or,
  in data without links, the subject's own actor id);
- 拥护者 advocate: a spreader who took part in at least `advocate_min_campaigns` campaigns or on
  at least `advocate_min_weeks` distinct weeks (local Monday weeks), and brought at least
  `advocate_min_brought` people in all.

Each stage is reached at the time of the event that completed it (the latest of its
conditions), so the history says when, and what caused it, even for a first computation over
months of events. Share links are read from the log itself (`share.created` carries the code).

The engagement score (互动指数, 0–100) = 100 × (0.4 recency + 0.3 frequency + 0.3 spread):
recency = 0.5 ^ (days since last seen / 14), frequency = min(1, ln(1 + active days) / ln 31),
spread = min(1, ln(1 + shares + 3 × people brought) / ln 31).

Incremental: the job keeps a cursor per workspace; only subjects with events after it (and the
sharers their new actions name) are recomputed. Everyone is recomputed when the rules change
and once a day (the score's recency decays without events).
"""

# SQL here is composed from EventKind constants, integers, validated rules and quoted ids.
# ruff: noqa: S608

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import text

from im2 import isolation
from im2.analytics.kinds import CONVERSION_KINDS, PARTICIPATION_KINDS, REACH_KINDS
from im2.analytics.lake import get_mark, read_events_after
from im2.analytics.query import _connection, _quote, committed_files, sql_list
from im2.clock import Clock
from im2.config import get_settings
from im2.db import Database
from im2.events.schemas import ActorType
from im2.events.schemas import EventKind as K
from im2.people.ladder import service as ladder
from im2.people.ladder.schemas import (
    STAGES,
    WORKSPACE_SCOPE,
    LadderRules,
    Stage,
    Step,
    StoreOutcome,
    SubjectResult,
)
from im2.people.service import PERSON_ACTOR_PREFIX

log = logging.getLogger("im2.analytics")

ACTING_KINDS = (*PARTICIPATION_KINDS, *CONVERSION_KINDS, K.COUPON_REDEEMED)
SEEN_KINDS = REACH_KINDS
COUNTED_KINDS = tuple(dict.fromkeys((*SEEN_KINDS, *ACTING_KINDS)))
SHARE = K.SHARE_CREATED.value
# At most once a minute per workspace with new events; everyone once a day.
EVERY = timedelta(minutes=1)
FULL_EVERY = timedelta(days=1)
HALF_LIFE_DAYS = 14.0


def _score_sql(now: datetime) -> str:
    now_s = now.timestamp()
    return (
        "round(100 * ("
        f"0.4 * pow(0.5, greatest({now_s} - epoch(last_seen), 0) / {HALF_LIFE_DAYS * 86400})"
        f" + 0.3 * least(1, ln(1 + days) / {math.log(31)})"
        f" + 0.3 * least(1, ln(1 + shares + 3 * nb) / {math.log(31)})), 1)"
    )


def ladder_sql(
    con: duckdb.DuckDBPyConnection,
    *,
    source: str,
    rules: LadderRules,
    timezone: str,
    now: datetime,
    workspace_scope: bool = True,
) -> str:
    """Build the ladder of every subject of `source` and return SQL for its rows.

    `source` is a relation with columns `eid` (event id or NULL), `t` (time), `c` (campaign
    id), `kind`, `s` (the subject) and `rs` (the subject the event's referrer names, or NULL).
    The rows: `s`, `c` (0 for the workspace scope), the steps `seen`, `acted`, `spread`, `adv`
    (structs of `t`, `eid`, `cause`, NULL when not reached), `score`, `last_seen`, `nb` (people
    brought), `nc` (campaigns taken part in), `nw` (weeks), `days`. Uses temporary tables."""
    acting = sql_list(ACTING_KINDS)
    step = "struct_pack(t := t, eid := eid, cause := kind)"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE ladder_sd AS
        SELECT s, c, CAST(timezone({_quote(timezone)}, t) AS DATE) AS d,
            min({step}) AS first_ev,
            min({step}) FILTER (WHERE kind IN {acting}) AS first_act,
            min({step}) FILTER (WHERE kind = '{SHARE}') AS first_share,
            max(t) AS t1, count(*) FILTER (WHERE kind = '{SHARE}') AS n_sh
        FROM {source} GROUP BY ALL"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE ladder_br AS
        SELECT rs AS s, c, s AS friend,
            min(struct_pack(t := t, eid := eid, cause := 'brought:' || kind)) AS ev
        FROM {source}
        WHERE kind IN {acting} AND rs IS NOT NULL AND rs <> s GROUP BY ALL"""
    )
    week = "date_trunc('week', d)"
    campaign = f"""
        SELECT f.*, b.b, w.weeks, CASE WHEN f.acted IS NULL THEN [] ELSE [f.acted] END AS camps
        FROM (SELECT s, c, min(first_ev) AS seen, min(first_act) AS acted,
                     min(first_share) AS shared, max(t1) AS last_seen,
                     count(DISTINCT d) AS days, sum(n_sh) AS shares
              FROM ladder_sd GROUP BY s, c) f
        LEFT JOIN (SELECT s, c, list(ev ORDER BY ev) AS b FROM ladder_br GROUP BY s, c) b
            USING (s, c)
        LEFT JOIN (SELECT s, c, list(w ORDER BY w) AS weeks FROM (
                       SELECT s, c, {week}, min(first_act) AS w FROM ladder_sd
                       WHERE first_act IS NOT NULL GROUP BY ALL) GROUP BY s, c) w
            USING (s, c)"""
    workspace = f"""
        SELECT f.*, b.b, w.weeks, k.camps
        FROM (SELECT s, {WORKSPACE_SCOPE} AS c, min(first_ev) AS seen, min(first_act) AS acted,
                     min(first_share) AS shared, max(t1) AS last_seen,
                     count(DISTINCT d) AS days, sum(n_sh) AS shares
              FROM ladder_sd GROUP BY s) f
        LEFT JOIN (SELECT s, list(ev ORDER BY ev) AS b FROM (
                       SELECT s, friend, min(ev) AS ev FROM ladder_br GROUP BY s, friend)
                   GROUP BY s) b USING (s)
        LEFT JOIN (SELECT s, list(w ORDER BY w) AS weeks FROM (
                       SELECT s, {week}, min(first_act) AS w FROM ladder_sd
                       WHERE first_act IS NOT NULL GROUP BY ALL) GROUP BY s) w USING (s)
        LEFT JOIN (SELECT s, list(w ORDER BY w) AS camps FROM (
                       SELECT s, c, min(first_act) AS w FROM ladder_sd
                       WHERE first_act IS NOT NULL GROUP BY s, c) GROUP BY s) k USING (s)"""
    scopes = f"{campaign} UNION ALL BY NAME {workspace}" if workspace_scope else campaign
    ks, n, m, k = (
        int(rules.spreader_min_brought),
        int(rules.advocate_min_campaigns),
        int(rules.advocate_min_weeks),
        int(rules.advocate_min_brought),
    )
    return f"""
        SELECT s, c, seen, acted, spread,
            CASE WHEN spread IS NOT NULL AND ret IS NOT NULL AND nb >= {k}
                 THEN greatest(spread, ret, b[{k}]) END AS adv,
            {_score_sql(now)} AS score, last_seen, nb, nc, nw, days
        FROM (
            SELECT *,
                CASE WHEN acted IS NOT NULL AND nb >= {ks}
                     THEN greatest(acted, coalesce(shared, b[1]), b[{ks}]) END AS spread,
                least(CASE WHEN nc >= {n} THEN camps[{n}] END,
                      CASE WHEN nw >= {m} THEN weeks[{m}] END) AS ret
            FROM (
                SELECT *, coalesce(len(b), 0) AS nb, coalesce(len(camps), 0) AS nc,
                    coalesce(len(weeks), 0) AS nw
                FROM ({scopes})
            )
        )"""


@dataclass(frozen=True, slots=True)
class LadderRun:
    workspace_id: int
    full: bool
    stored: StoreOutcome | None


_STEPS = ("seen", "acted", "spread", "adv")
# The steps as plain columns (a struct per row costs a Python dict each to fetch).
_FLAT = ", ".join(f"{n}.t, {n}.eid, {n}.cause" for n in _STEPS)


def _results(rows: Sequence[tuple[Any, ...]]) -> list[SubjectResult]:
    found = []
    for row in rows:
        s, c = row[0], row[1]
        steps = tuple(
            (stage, Step(at=row[i], event_id=row[i + 1], cause=row[i + 2]))
            for stage, i in zip(STAGES, range(2, 14, 3), strict=True)
            if row[i] is not None
        )
        score, last_seen, nb, nc, nw, days = row[14:]
        person = (
            int(s.removeprefix(PERSON_ACTOR_PREFIX)) if s.startswith(PERSON_ACTOR_PREFIX) else None
        )
        found.append(
            SubjectResult(
                campaign_id=int(c),
                subject=str(s),
                person_id=person,
                steps=steps,
                score=float(score),
                last_seen_at=last_seen,
                brought=int(nb),
                campaigns=int(nc),
                weeks=int(nw),
                active_days=int(days),
            )
        )
    return found


_SOURCE_COLUMNS = (
    "id, occurred_at, workspace_id, campaign_id, actor_type, actor_id, kind, referrer, properties"
)


def _newest_event(session: Any, *, workspace_id: int, after: int) -> int:
    """The workspace's newest event id above `after` (0 when none): the job's cheap check."""
    value = session.execute(
        text("SELECT max(id) FROM events WHERE workspace_id = :w AND id > :after"),
        {"w": workspace_id, "after": after},
    ).scalar()
    return int(value or 0)


def compute_ladder(
    db: Database, *, workspace_id: int, lake_path: Path, now: datetime, force: bool = False
) -> LadderRun:
    """Recompute the workspace's ladder where it changed and store it, in one transaction that
    holds the workspace's ladder cursor. `force` skips the once-a-minute throttle."""
    with db.transaction() as session:
        cursor = ladder.lock_cursor(session, workspace_id=workspace_id)
        full = cursor.full_due or cursor.full_at is None or now - cursor.full_at >= FULL_EVERY
        changed: tuple[set[str], set[str]] = (set(), set())
        if not full:
            if not force and cursor.computed_at is not None and now - cursor.computed_at < EVERY:
                return LadderRun(workspace_id, False, None)
            if cursor.computed_at is not None:
                changed = ladder.people_changed_since(
                    session, workspace_id=workspace_id, since=cursor.computed_at
                )
            newest = _newest_event(session, workspace_id=workspace_id, after=cursor.last_event_id)
            if newest == 0 and not (changed[0] or changed[1]):
                return LadderRun(workspace_id, False, None)
        rules = ladder.get_rules(session, workspace_id=workspace_id)
        mark = get_mark(session)
        tail = read_events_after(session, after_id=mark)
        subjects = ladder.actor_subjects(session, workspace_id=workspace_id)
        con = _connection()
        try:
            results, retire, newest = _compute(
                con,
                workspace_id=workspace_id,
                files=[f for f, _d in committed_files(lake_path, mark=mark)],
                tail=tail,
                subjects=subjects,
                rules=rules,
                timezone=cursor.timezone,
                after=None if full else cursor.last_event_id,
                also=changed[0],
                now=now,
            )
        finally:
            con.close()
        stored = ladder.do_store_results(
            session,
            cursor=cursor,
            results=results,
            retire=[*retire, *changed[1]],
            full=full,
            last_event_id=newest,
            now=now,
        )
    return LadderRun(workspace_id, full, stored)


def _compute(
    con: duckdb.DuckDBPyConnection,
    *,
    workspace_id: int,
    files: list[str],
    tail: pa.Table,
    subjects: list[tuple[str, str, bool]],
    rules: LadderRules,
    timezone: str,
    after: int | None,
    now: datetime,
    also: Collection[str] = (),
) -> tuple[list[SubjectResult], list[str], int]:
    """(results, actor ids to retire, newest event id) for the subjects with events after
    `after` and the subjects in `also` (everyone when `after` is None)."""
    con.execute("SET SESSION TimeZone = 'UTC'")
    con.register("ladder_tail", tail)
    con.register(
        "ladder_map",
        pa.table(
            {
                "actor_id": pa.array([a for a, _s, _r in subjects], pa.string()),
                "subject": pa.array([s for _a, s, _r in subjects], pa.string()),
                "restricted": pa.array([r for _a, _s, r in subjects], pa.bool_()),
            }
        ),
    )
    where = (
        f"workspace_id = {int(workspace_id)} AND campaign_id IS NOT NULL AND actor_id IS NOT NULL "
        f"AND actor_type IN {sql_list([ActorType.PARTICIPANT.value, ActorType.VISITOR.value])} "
        f"AND kind IN {sql_list(COUNTED_KINDS)}"
    )
    parts = [f"SELECT {_SOURCE_COLUMNS} FROM ladder_tail WHERE {where}"]
    if files:
        paths = ", ".join(_quote(f) for f in files)
        parts.insert(0, f"SELECT {_SOURCE_COLUMNS} FROM read_parquet([{paths}]) WHERE {where}")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE ladder_ev0 AS
        SELECT id AS eid, occurred_at AS t, campaign_id AS c, kind, actor_id,
            coalesce(m.subject, actor_id) AS s,
            coalesce(referrer, CASE WHEN properties LIKE '%referrer%'
                THEN json_extract_string(properties, '$.referrer') END) AS ref,
            CASE WHEN kind = '{SHARE}' THEN json_extract_string(properties, '$.code') END AS code
        FROM ({" UNION ALL ".join(parts)}) e LEFT JOIN ladder_map m USING (actor_id)
        WHERE NOT coalesce(m.restricted, false)"""
    )
    newest = int(con.execute("SELECT coalesce(max(eid), 0) FROM ladder_ev0").fetchall()[0][0])
    con.execute(
        """CREATE OR REPLACE TEMP VIEW ladder_ev AS
        SELECT e.eid, e.t, e.c, e.kind, e.s,
            CASE WHEN e.ref IS NOT NULL THEN coalesce(l.sharer, m.subject, e.ref) END AS rs
        FROM ladder_ev0 e
        LEFT JOIN (SELECT code, min(s) AS sharer FROM ladder_ev0 WHERE code IS NOT NULL
                   GROUP BY code) l ON l.code = e.ref
        LEFT JOIN ladder_map m ON m.actor_id = e.ref"""
    )
    source = "ladder_ev"
    if after is not None:
        con.register("ladder_also", pa.table({"s": pa.array(sorted(also), pa.string())}))
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE ladder_focus AS
            SELECT s FROM ladder_ev WHERE eid > {int(after)}
            UNION SELECT rs FROM ladder_ev WHERE eid > {int(after)} AND rs IS NOT NULL
            UNION SELECT s FROM ladder_also"""
        )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE ladder_evf AS
            SELECT * FROM ladder_ev
            WHERE s IN (SELECT s FROM ladder_focus) OR rs IN (SELECT s FROM ladder_focus)"""
        )
        source = "ladder_evf"
    sql = ladder_sql(con, source=source, rules=rules, timezone=timezone, now=now)
    if after is not None:
        sql = f"SELECT * FROM ({sql}) WHERE s IN (SELECT s FROM ladder_focus)"
    rows = con.execute(
        f"SELECT s, c, {_FLAT}, score, last_seen, nb, nc, nw, days FROM ({sql}) ORDER BY c, s"
    ).fetchall()
    results = _results(rows)
    retire: list[str] = []
    if after is not None:
        # Devices and participants of the recomputed persons that had a ladder of their own
        # (a bystander's device that later joined): they are that person now.
        retire = [
            str(a)
            for (a,) in con.execute(
                "SELECT actor_id FROM ladder_map WHERE subject IN (SELECT s FROM ladder_focus)"
            ).fetchall()
        ]
    return results, retire, newest


def ladder_job(db: Database, clock: Clock) -> list[LadderRun]:
    """Recompute the ladder of every workspace that has one to recompute; one workspace's
    failure is logged and the others go on (`isolation.each`, one transaction each)."""
    with db.session() as session:
        ids = [int(w) for (w,) in session.execute(text("SELECT id FROM workspaces ORDER BY id"))]
    lake_path = get_settings().lake_path
    now = clock.now()
    return isolation.each(
        ids,
        lambda ws: compute_ladder(db, workspace_id=ws, lake_path=lake_path, now=now),
        job="people_ladder",
        key=lambda ws: f"workspace {ws}",
    ).results


__all__ = ["ACTING_KINDS", "LadderRun", "Stage", "compute_ladder", "ladder_job", "ladder_sql"]
