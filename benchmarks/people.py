"""People benchmark (issue 19): the people console's reads at scale, and an identity merge.

    .venv/bin/python benchmarks/people.py [--quick|--smoke] [--people N] [--events N]
        [--merges N] [--searches N] [--postgres URL] [--skip-job] [--mentions N] [--keep FILE]
        [--recount]

One workspace holds `--people` persons (full: 1,000,000), written in bulk with the shapes the
services and jobs write: each person a participant (a fifth with a nickname), a device and a
participant identity, a verified phone for a tenth, a CRM id for a quarter, the consent to
take part (half also to profiling, 1 in 200 of those withdrawn), the closeness ladder's states
(workspace scope and one campaign each), its daily flows over 90 days, and the segment facts
(first touch, points, campaigns and activity kinds taken part in). `--events` events (full:
10,000,000, `im2.analytics.synth` over ten campaigns, actors mapped onto the participants) are
in the Parquet lake, as the event log is once moved. Timed, on SQLite (a temporary file) or on
PostgreSQL (`--postgres URL`: a database `im2_bench_people` is created fresh on that server):

- segment counts: `segments.service.count_rule`, the builder's live count and the segments
  page's count, for five rules (the issue's "传播者 in campaign X", recent verified high scorers,
  points, first-touch channel, taken part in a kind of activity); the target is the slowest;
- the ladder dashboard: `GET /api/v1/people/ladder` (workspace, and one campaign) through the
  app (FastAPI TestClient, in process: the whole request as the console asks it, without a
  network hop);
- people-list search: `GET /api/v1/people?q=…` through the same TestClient (a full phone
  number, a CRM id, a person id, a nickname prefix, a text nobody has), p95;
- an identity merge of a person with 1,000 events, as the API runs it (one committed
  transaction: lock both, move the identities, record the merge and its audit entry), and its
  undo;
- the ladder's recomputation job (`compute_ladder`, forced full: DuckDB over the lake, then
  storing every changed stage), once, reported apart (it runs in the background, never while a
  user waits).

With `--mentions N`, the workspace also holds N listening mentions and twenty people hold
social accounts that posted some: the profile's timeline (`GET /api/v1/people/{id}/timeline`,
events and matched mentions) is timed for each. With `--keep FILE` (SQLite), the database is
built in FILE and kept; a later run with the same FILE migrates it and times only the segment
counts and their baseline (to compare query changes without a new 11-minute build). On
PostgreSQL, `--recount` does the same with the `im2_bench_people` an earlier run left there.

Baselines in the same run, on the same database: `SELECT count(*)` over the workspace's people
(the floor of any count over them), an indexed lookup of one identity, the floor of any
committed write (update one row and commit), and re-keying the merged person's 1,000 events
(the design a merge avoids). The last line printed is one JSON object.
"""

# SQL here is composed from integers and fixed fragments only.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import CursorResult, create_engine, insert, inspect, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import Mode, emit, fail, mode_argument, mode_of, target
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignCreate, Objective
from im2.db import Database
from im2.events.models import Event
from im2.migrations import upgrade
from im2.people import service as people
from im2.people.identities import identity_hash, mask
from im2.people.schemas import IdentityKind
from im2.people.segments.schemas import SegmentRule
from im2.people.segments.service import count_rule
from im2.workspaces import service as workspaces
from im2.workspaces.schemas import Role

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
START = NOW - timedelta(days=90)
DAY_S = 86_400
EVENTS_PER_PERSON = 1_000
CAMPAIGNS = 10
SECRET = "benchmark-secret-key-0123456789-abcdefghijklmnop"
PG_DATABASE = "im2_bench_people"

RULES: dict[str, dict[str, Any]] = {
    "spreaders_in_campaign": {
        "match": "all",
        "conditions": [
            {"field": "stage", "values": ["spreader"]},
            {"field": "campaign", "values": [3]},
        ],
    },
    "recent_verified_high_score": {
        "match": "all",
        "conditions": [
            {"field": "last_seen", "op": "within", "days": 30},
            {"field": "verified", "kind": "phone", "value": True},
            {"field": "score", "op": "gte", "value": 50},
        ],
    },
    "points_at_least_40": {
        "match": "all",
        "conditions": [{"field": "points", "op": "gte", "value": 40}],
    },
    "first_touch_wechat_advocates": {
        "match": "all",
        "conditions": [
            {"field": "channel", "values": ["wechat"]},
            {"field": "stage", "values": ["advocate"]},
        ],
    },
    "quiz_or_poll_not_campaign_1": {
        "match": "all",
        "conditions": [
            {"field": "activity_kind", "values": ["quiz"]},
            {"field": "campaign", "op": "not_in", "values": [1]},
        ],
    },
}


def _ms(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(p95 * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def _timed(fn: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    seconds, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - t)
    return seconds, result


# --- the data, in bulk ------------------------------------------------------------------------


class Dialect:
    """The few SQL fragments that differ: a number series and a time `seconds` after START."""

    def __init__(self, name: str) -> None:
        self.pg = name == "postgresql"

    def series(self, n: int) -> str:
        if self.pg:
            return f"WITH s(i) AS (SELECT generate_series(CAST(0 AS BIGINT), {n - 1})) "
        return f"WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {n - 1}) "

    def at(self, seconds: str) -> str:
        if self.pg:
            return f"(timestamptz '{START.isoformat()}' + ({seconds}) * interval '1 second')"
        start = START.strftime("%Y-%m-%d %H:%M:%S")
        return (
            f"(strftime('%Y-%m-%d %H:%M:%f', '{start}', '+' || ({seconds}) || ' seconds') || '000')"
        )

    def text(self, expr: str) -> str:
        return f"CAST({expr} AS TEXT)"


def _stage(i: str) -> str:
    """A person's workspace stage from a scrambled index: 70 % participant, 20 % spreader,
    5 % advocate, 5 % not computed yet."""
    r = f"(({i}) * 37 % 100)"
    return (
        f"CASE WHEN {r} < 70 THEN 'participant' WHEN {r} < 90 THEN 'spreader' "
        f"WHEN {r} < 95 THEN 'advocate' END"
    )


def build(db: Database, *, n: int) -> tuple[str, int]:
    """The workspace and its people (see the module docstring); returns (slug, workspace id)."""
    d = Dialect(db.engine.dialect.name)
    slug = "bench-people"
    with db.transaction() as session:
        ws = workspaces.do_create_workspace(
            session, slug=slug, name="Bench", timezone="Asia/Shanghai", now=START
        )
    w = ws.id
    with db.transaction() as session:
        owner = workspaces.system_actor(session, workspace_slug=slug)
        ids = [
            campaigns.do_create_campaign(
                session,
                actor=owner,
                data=CampaignCreate(
                    name=f"活动 {k}",
                    slug=f"bench-{k}",
                    objective=Objective.ENGAGEMENT,
                    timezone="Asia/Shanghai",
                    starts_at=START,
                    ends_at=NOW,
                ),
                now=START,
            ).id
            for k in range(1, CAMPAIGNS + 1)
        ]
    if ids != list(range(1, CAMPAIGNS + 1)):
        fail("people", f"the campaigns got ids {ids}, not 1 … {CAMPAIGNS} (a fresh database?)")
    last_seen = d.at(f"(i * 7919) % {90 * DAY_S}")
    created = d.at(f"i % {30 * DAY_S}")
    c = f"(i % {CAMPAIGNS} + 1)"
    statements = [
        # Participants: one per person, a fifth named 用户<i>.
        f"INSERT INTO participants (id, workspace_id, device_id, nickname, consent_version, "
        f"consent_at, created_at, first_campaign_id, first_channel) "
        f"SELECT i + 1, {w}, 'dev' || {d.text('i')}, "
        f"CASE WHEN i % 5 = 0 THEN '用户' || {d.text('i')} END, '2026-03', {created}, "
        f"{created}, {c}, 'wechat' FROM s",
        # Activity kinds as the facts job keeps them (poll 1, quiz 2: segment_person_campaigns).
        f"INSERT INTO people (id, workspace_id, created_at, several_actors, last_seen_at, stage, "
        f"score, activity_kinds) SELECT i + 1, {w}, {created}, {'false' if d.pg else '0'}, "
        f"{last_seen}, {_stage('i')}, CASE WHEN i * 37 % 100 < 95 THEN (i * 7919 % 1000) / 10.0 "
        f"END, CASE WHEN i % 3 = 0 THEN 3 ELSE 1 END FROM s",
        f"INSERT INTO person_identities (workspace_id, person_id, kind, value, created_at) "
        f"SELECT {w}, i + 1, 'device', 'dev' || {d.text('i')}, {created} FROM s",
        f"INSERT INTO person_identities (workspace_id, person_id, kind, value, created_at) "
        f"SELECT {w}, i + 1, 'participant', {d.text('i + 1')}, {created} FROM s",
        f"INSERT INTO person_identities (workspace_id, person_id, kind, value, created_at) "
        f"SELECT {w}, i + 1, 'crm', 'CRM' || {d.text('i')}, {created} FROM s WHERE i % 4 = 0",
        f"INSERT INTO consent_records (workspace_id, person_id, participant_id, purpose, version, "
        f"channel, given_by, under_14, granted_at) SELECT {w}, i + 1, i + 1, 'taking_part', "
        f"'2026-03', 'action', 'self', {'false' if d.pg else '0'}, {created} FROM s",
        f"INSERT INTO consent_records (workspace_id, person_id, participant_id, purpose, version, "
        f"channel, given_by, under_14, granted_at, withdrawn_at) SELECT {w}, i + 1, i + 1, "
        f"'profiling', '2026-03', 'action', 'self', {'false' if d.pg else '0'}, {created}, "
        f"CASE WHEN i % 400 = 0 THEN {last_seen} END FROM s WHERE i % 2 = 0",
        f"INSERT INTO segment_actor_facts (workspace_id, identity_kind, identity_value, first_at, "
        f"first_channel, first_source, points) SELECT {w}, 'participant', {d.text('i + 1')}, "
        f"{created}, CASE i % 5 WHEN 0 THEN 'wechat' WHEN 1 THEN 'weibo' WHEN 2 THEN 'douyin' "
        f"WHEN 3 THEN 'xiaohongshu' END, CASE WHEN i % 3 = 0 THEN 'sc' || {d.text('i / 3')} END, "
        f"i % 50 FROM s",
        f"INSERT INTO segment_actor_campaigns (workspace_id, identity_kind, identity_value, "
        f"campaign_id, activity_kind) SELECT {w}, 'participant', {d.text('i + 1')}, {c}, 'poll' "
        f"FROM s",
        f"INSERT INTO segment_actor_campaigns (workspace_id, identity_kind, identity_value, "
        f"campaign_id, activity_kind) SELECT {w}, 'participant', {d.text('i + 1')}, "
        f"(i + 3) % {CAMPAIGNS} + 1, 'quiz' FROM s WHERE i % 3 = 0",
        # The same facts per person, as the facts job folds them (what a count reads).
        f"INSERT INTO segment_person_facts (person_id, workspace_id, first_channel, first_source, "
        f"points) SELECT i + 1, {w}, CASE i % 5 WHEN 0 THEN 'wechat' WHEN 1 THEN 'weibo' "
        f"WHEN 2 THEN 'douyin' WHEN 3 THEN 'xiaohongshu' END, "
        f"CASE WHEN i % 3 = 0 THEN 'sc' || {d.text('i / 3')} END, i % 50 FROM s",
        f"INSERT INTO segment_person_campaigns (person_id, campaign_id, activity_kind, "
        f"workspace_id) SELECT i + 1, {c}, 'poll', {w} FROM s",
        f"INSERT INTO segment_person_campaigns (person_id, campaign_id, activity_kind, "
        f"workspace_id) SELECT i + 1, (i + 3) % {CAMPAIGNS} + 1, 'quiz', {w} FROM s "
        f"WHERE i % 3 = 0",
        f"INSERT INTO ladder_states (workspace_id, campaign_id, subject, person_id, stage, score, "
        f"last_seen_at, brought, campaigns, weeks, active_days, updated_at) SELECT {w}, 0, "
        f"'p:' || {d.text('i + 1')}, i + 1, {_stage('i')}, (i * 7919 % 1000) / 10.0, {last_seen}, "
        f"i % 4, 1 + i % 3, 1 + i % 5, 1 + i % 9, {d.at(str(90 * DAY_S))} FROM s "
        f"WHERE i * 37 % 100 < 95",
        f"INSERT INTO ladder_states (workspace_id, campaign_id, subject, person_id, stage, score, "
        f"last_seen_at, brought, campaigns, weeks, active_days, updated_at) SELECT {w}, {c}, "
        f"'p:' || {d.text('i + 1')}, i + 1, CASE WHEN i * 37 % 100 < 70 THEN 'participant' "
        f"ELSE 'spreader' END, (i * 7919 % 1000) / 10.0, {last_seen}, i % 4, 1, 1 + i % 5, "
        f"1 + i % 9, {d.at(str(90 * DAY_S))} FROM s WHERE i * 37 % 100 < 95",
    ]
    bucket = "CAST(floor(score) AS INTEGER)" if d.pg else "CAST(score AS INTEGER)"
    with db.transaction() as session:
        for sql in statements:
            session.execute(text(d.series(n) + sql))
        # The ladder's tallies, as the job keeps them: people per scope, stage and score point.
        session.execute(
            text(
                "INSERT INTO ladder_tallies (workspace_id, campaign_id, stage, bucket, people) "
                f"SELECT workspace_id, campaign_id, stage, {bucket}, count(*) FROM ladder_states "
                f"GROUP BY workspace_id, campaign_id, stage, {bucket}"
            )
        )
    # Verified phones (a tenth), hashed as the service does; the daily flows of the ladder.
    with db.transaction() as session:
        phones = [(i, f"139{i % 100_000_000:08d}") for i in range(0, n, 10)]
        for start in range(0, len(phones), 20_000):
            session.execute(
                text(
                    "INSERT INTO person_identities (workspace_id, person_id, kind, value, hint, "
                    "created_at) VALUES (:w, :p, 'phone', :v, :h, :t)"
                ),
                [
                    {
                        "w": w,
                        "p": i + 1,
                        "v": identity_hash(secret=SECRET, kind=IdentityKind.PHONE, value=phone),
                        "h": mask(IdentityKind.PHONE, phone),
                        "t": NOW - timedelta(days=1),
                    }
                    for i, phone in phones[start : start + 20_000]
                ],
            )
        steps = [("", "participant"), ("participant", "spreader"), ("spreader", "advocate")]
        flows = [
            {
                "w": w,
                "c": scope,
                "d": (START + timedelta(days=day)).date(),
                "f": f,
                "t": t,
                "n": max(1, n // 90 // (k + 1) // (1 if scope == 0 else CAMPAIGNS)),
            }
            for scope in range(CAMPAIGNS + 1)
            for day in range(90)
            for k, (f, t) in enumerate(steps)
        ]
        session.execute(
            text(
                "INSERT INTO ladder_flows (workspace_id, campaign_id, day, from_stage, to_stage, "
                "people) VALUES (:w, :c, :d, :f, :t, :n)"
            ),
            flows,
        )
    if d.pg:
        with db.transaction() as session:
            for table in ("people", "participants"):
                session.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n})")
                )
        with db.engine.connect() as con:
            con.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    else:
        with db.engine.connect() as con:
            con.execute(text("ANALYZE"))
            con.commit()
    return slug, w


ACCOUNT_HOLDERS = 20  # people 1 … 20 hold a Weibo and a Douyin account with mentions


def build_mentions(db: Database, *, workspace_id: int, n: int) -> None:
    """`n` listening mentions in the workspace, a third each on Weibo, Douyin and Xiaohongshu,
    by 20,000 authors (`User<k>` on Weibo, `user<k>` elsewhere, a seventh written with a
    leading @); people 1 … 20 hold the Weibo and Douyin accounts of authors 1 … 20. The
    stored normalised author (`author_key`) is written as ingest writes it, when the table
    has that column (so that one command measures the match before and after it came)."""
    d = Dialect(db.engine.dialect.name)
    w = workspace_id
    author = (
        "CASE WHEN i % 7 = 0 THEN '@' ELSE '' END || CASE WHEN i % 3 = 0 THEN 'User' "
        f"ELSE 'user' END || {d.text('i % 20000')}"
    )
    platform = "CASE i % 3 WHEN 0 THEN 'weibo' WHEN 1 THEN 'douyin' ELSE 'xiaohongshu' END"
    with db.engine.connect() as con:
        columns = {c["name"] for c in inspect(con).get_columns("listening_mentions")}
    keyed = "author_key" in columns
    posted = d.at(f"(i * 7919) % {90 * DAY_S}")
    with db.transaction() as session:
        session.execute(
            text(
                d.series(n) + "INSERT INTO listening_mentions (workspace_id, platform, post_id, "
                "author, author_followers, text, language, posted_at, posted_minute, likes, "
                "reposts, comments, sentiment, sentiment_corrected, fingerprint, raw, created_at"
                + (", author_key" if keyed else "")
                + f") SELECT {w}, {platform}, {d.text('i')}, {author}, i % 1000, "
                f"'提到了品牌 ' || {d.text('i')}, 'zh', {posted}, {START.timestamp() // 60:.0f} + "
                f"(i * 7919) % {90 * DAY_S} / 60, 0, 0, 0, 'neutral', "
                f"{'false' if d.pg else '0'}, {d.text('i')}, '{{}}', {d.at('0')}"
                + (f", lower(ltrim({author}, '@'))" if keyed else "")
                + " FROM s"
            )
        )
        for p in range(1, ACCOUNT_HOLDERS + 1):
            for kind, handle in (("weibo", f"User{p}"), ("douyin", f"user{p}")):
                session.execute(
                    text(
                        "INSERT INTO person_identities (workspace_id, person_id, kind, value, "
                        "created_at) VALUES (:w, :p, :k, :v, :t)"
                    ),
                    {"w": w, "p": p, "k": kind, "v": handle, "t": START},
                )
    with db.engine.connect() as con:
        con.execute(text("ANALYZE"))
        con.commit()


def build_lake(lake: Path, *, events: int, people: int, workspace_id: int) -> int:
    """`events` synthetic events over the campaigns, each actor one of the participants;
    returns the last event id (the lake mark)."""
    from im2.analytics.lake import write_batch
    from im2.analytics.synth import generate_events

    per = max(1, events // CAMPAIGNS)
    offset = 0
    for k in range(CAMPAIGNS):
        size = per if k < CAMPAIGNS - 1 else events - offset
        table = generate_events(
            events=size,
            start=START,
            days=60,
            campaign_id=k + 1,
            workspace_id=workspace_id,
            first_id=offset + 1,
            seed=19 + k,
        )
        # "s:<n>" → participant id (1 … people), spread over the campaigns; referrers too.
        for column in ("actor_id", "referrer"):
            number = pc.cast(pc.utf8_slice_codeunits(table[column], 2), pa.int64())
            pid = pc.add(pc.remainder(pc.add(number, k * 7_919), people), 1)
            table = table.set_column(
                table.schema.get_field_index(column), column, pc.cast(pid, pa.string())
            )
        write_batch(lake, table)
        offset += size
    return offset


def _merge_pairs(
    db: Database, *, workspace_id: int, n: int, merges: int, first_event: int
) -> list[tuple[int, int]]:
    """(merged, kept) people from the end of the table; each merged one gets 1,000 events in
    the database's event log (ids after the lake's)."""
    pairs = [(n - 2 * k, n - 2 * k - 1) for k in range(merges)]
    next_id = first_event
    for merged, _kept in pairs:
        with db.transaction() as session:
            session.execute(
                insert(Event),
                [
                    {
                        "id": next_id + j,
                        "occurred_at": NOW - timedelta(seconds=EVENTS_PER_PERSON - j),
                        "workspace_id": workspace_id,
                        "campaign_id": 1,
                        "activity_id": None,
                        "actor_type": "participant",
                        "actor_id": str(merged),
                        "kind": "vote.cast",
                        "channel": None,
                        "referrer": None,
                        "properties": {},
                    }
                    for j in range(EVENTS_PER_PERSON)
                ],
            )
        next_id += EVENTS_PER_PERSON
    if db.engine.dialect.name == "postgresql":  # later events (the audit's) take ids after these
        with db.transaction() as session:
            session.execute(
                text(f"SELECT setval(pg_get_serial_sequence('events', 'id'), {next_id - 1})")
            )
    return pairs


def _pg_database(url: str) -> str:
    """A fresh database `im2_bench_people` on the server of `url`; returns its URL."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.execute(text(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"))
        con.execute(text(f"CREATE DATABASE {PG_DATABASE}"))
    admin.dispose()
    return make_url(url).set(database=PG_DATABASE).render_as_string(hide_password=False)


def _token(db: Database, slug: str) -> str:
    with db.transaction() as session:
        system = workspaces.system_actor(session, workspace_slug=slug)
        return workspaces.do_create_token(
            session, actor=system, name="bench", role=Role.EDITOR, expires_at=None, now=NOW
        ).token


def _segment_counts(db: Database, w: int, *, runs: int) -> dict[str, Any]:
    """The five rules' counts, and their baseline: a plain count of the workspace's people."""

    def plain_count() -> int:
        with db.session() as session:
            return int(
                session.execute(
                    text("SELECT count(*) FROM people WHERE workspace_id = :w"), {"w": w}
                ).scalar_one()
            )

    count_s, _ = _timed(plain_count, runs)
    counts: dict[str, Any] = {}
    for name, rule in RULES.items():
        parsed = SegmentRule.model_validate(rule)

        def one(parsed: SegmentRule = parsed) -> int:
            with db.session() as session:
                return count_rule(session, workspace_id=w, rule=parsed, now=NOW)

        seconds, members = _timed(one, runs)
        counts[name] = {**_ms(seconds), "members": members}
    return {"baseline_count_people": _ms(count_s), "segment_count": counts}


def _recount(args: argparse.Namespace, mode: Mode) -> dict[str, Any]:
    """`--keep` (or `--recount`) with a database built before: migrate it, then only the
    segment counts."""
    if args.postgres:
        url = (
            make_url(args.postgres).set(database=PG_DATABASE).render_as_string(hide_password=False)
        )
        figures: dict[str, Any] = {"database": "postgresql", "kept": PG_DATABASE}
    else:
        url = f"sqlite:///{args.keep}"
        figures = {"database": "sqlite", "kept": str(args.keep)}
    t = time.perf_counter()
    upgrade(url)
    figures["upgrade_s"] = round(time.perf_counter() - t, 1)
    db = Database(url)
    try:
        with db.session() as session:
            w = session.execute(
                text("SELECT id FROM workspaces WHERE slug = 'bench-people'")
            ).scalar_one()
            figures["people"] = session.execute(
                text("SELECT count(*) FROM people WHERE workspace_id = :w"), {"w": w}
            ).scalar_one()
        figures.update(_segment_counts(db, w, runs=3 if mode is Mode.SMOKE else 5))
    finally:
        db.dispose()
    worst = max(c["p50_ms"] for c in figures["segment_count"].values())
    full = mode is Mode.FULL and figures["people"] >= 1_000_000
    return {
        "figures": figures,
        "targets": {
            "segment_count_slowest_p50_ms": target(
                worst,
                "<= 1000 ms at 1 M people",
                worst <= 1000,
                mode=mode if full else Mode.SMOKE,
                full_size_only=True,
            )
        },
    }


def run(args: argparse.Namespace, mode: Mode) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from im2.analytics.ladder import compute_ladder
    from im2.app import create_app
    from im2.clock import ManualClock
    from im2.config import Environment, Settings

    n, n_events, merges, searches = args.people, args.events, args.merges, args.searches
    figures: dict[str, Any] = {"people": n, "events_in_lake": n_events}
    with tempfile.TemporaryDirectory(prefix="im2-people-bench-") as folder:
        root = Path(folder)
        file = args.keep or root / "people.db"
        url = _pg_database(args.postgres) if args.postgres else f"sqlite:///{file}"
        figures["database"] = url.split(":")[0].split("+")[0]
        upgrade(url)
        db = Database(url)
        try:
            t = time.perf_counter()
            slug, w = build(db, n=n)
            if args.mentions:
                build_mentions(db, workspace_id=w, n=args.mentions)
                figures["mentions"] = args.mentions
            figures["build_tables_s"] = round(time.perf_counter() - t, 1)
            t = time.perf_counter()
            lake = root / "lake"
            # The lake is read only by the ladder job; without the job it is not built.
            mark = (
                0 if args.skip_job else build_lake(lake, events=n_events, people=n, workspace_id=w)
            )
            figures["events_in_lake"] = mark
            with db.transaction() as session:
                session.execute(
                    text(
                        "INSERT INTO analytics_lake_marks (stream, last_id, moved, updated_at) "
                        "VALUES ('events', :m, :m, :t)"
                    ),
                    {"m": mark, "t": NOW},
                )
            with db.session() as session:
                newest = session.execute(text("SELECT max(id) FROM events")).scalar_one() or 0
            pairs = _merge_pairs(
                db, workspace_id=w, n=n, merges=merges, first_event=max(mark, newest) + 1
            )
            figures["build_events_s"] = round(time.perf_counter() - t, 1)
            with db.session() as session:
                rows = {
                    table: session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                    for table in (
                        "people",
                        "person_identities",
                        "participants",
                        "consent_records",
                        "ladder_states",
                        "segment_person_facts",
                        "segment_person_campaigns",
                        "events",
                    )
                }
            figures["rows"] = rows

            runs = 3 if mode is Mode.SMOKE else 5
            figures.update(_segment_counts(db, w, runs=runs))
            worst_segment = max(c["p50_ms"] for c in figures["segment_count"].values())

            def lookup() -> Any:
                with db.session() as session:
                    return session.execute(
                        text(
                            "SELECT person_id FROM person_identities WHERE workspace_id = :w "
                            "AND kind = 'crm' AND value = :v"
                        ),
                        {"w": w, "v": f"CRM{(n // 2) // 4 * 4}"},
                    ).scalar_one()

            lookup_s, _ = _timed(lookup, 20)
            figures["baseline_identity_lookup"] = _ms(lookup_s)

            # The app, in process, for the ladder dashboard and the list search.
            settings = Settings(
                env=Environment.TEST,
                database_url=url,
                run_scheduler=False,
                secret_key=SECRET,
                lake_path=lake,
            )
            app = create_app(settings, db=db, clock=ManualClock(NOW))
            headers = {"Authorization": f"Bearer {_token(db, slug)}"}
            with TestClient(app, base_url="http://testserver") as client:

                def get(path: str) -> Any:
                    answer = client.get(path, headers=headers)
                    if answer.status_code != 200:
                        fail("people", f"GET {path}: {answer.status_code} {answer.text[:300]}")
                    return answer.json()

                # One request of each kind first (the app's first-use costs: templates,
                # caches), not counted.
                get("/api/v1/people/ladder")
                get("/api/v1/people?q=warm&limit=50")
                board_s, board = _timed(lambda: get("/api/v1/people/ladder"), runs)
                campaign_s, _ = _timed(lambda: get("/api/v1/people/ladder?campaign_id=3"), runs)
                figures["ladder_board"] = {
                    **_ms(board_s),
                    "stages": {s["stage"]: s["people"] for s in board["stages"]},
                }
                figures["ladder_board_campaign"] = _ms(campaign_s)
                worst_ladder = max(_ms(board_s)["p95_ms"], _ms(campaign_s)["p95_ms"])

                half = n // 2
                queries = {
                    "phone": f"139{(half // 10 * 10) % 100_000_000:08d}",
                    "crm": f"CRM{half // 4 * 4}",
                    "person_id": f"#{half}",
                    "nickname": f"用户{half // 5 * 5}",
                    "nobody": "没有这个人",
                }
                search: dict[str, Any] = {}
                every: list[float] = []
                for name, q in queries.items():
                    path = "/api/v1/people?" + urlencode({"q": q, "limit": 50})
                    seconds, page = _timed(partial(get, path), searches)
                    every.extend(seconds)
                    search[name] = {**_ms(seconds), "found": len(page["items"])}
                list_s, _ = _timed(lambda: get("/api/v1/people?limit=50"), searches)
                search["no_search_first_page"] = _ms(list_s)
                figures["list_search"] = search
                search_p95 = _ms(every)["p95_ms"]
                figures["list_search_all"] = _ms(every)
                if args.mentions:
                    # The profile's timeline (its events and matched mentions), each holder.
                    get("/api/v1/people/1/timeline")
                    profile_s: list[float] = []
                    found = 0
                    for holder in range(1, ACCOUNT_HOLDERS + 1):
                        seconds, page = _timed(partial(get, f"/api/v1/people/{holder}/timeline"), 3)
                        profile_s.extend(seconds)
                        found += sum(1 for item in page["items"] if item["kind"] == "mention")
                    figures["profile_timeline"] = {**_ms(profile_s), "mentions_shown": found}

            # Merges and undos, with their baselines.
            with db.session() as session:
                actor = workspaces.system_actor(session, workspace_slug=slug)
            floor: list[float] = []
            for _ in range(merges):
                t = time.perf_counter()
                with db.transaction() as session:
                    session.execute(
                        text("UPDATE workspaces SET name = name WHERE id = :id"), {"id": w}
                    )
                floor.append(time.perf_counter() - t)
            merge_s: list[float] = []
            merge_ids: list[int] = []
            for merged, kept in pairs:
                t = time.perf_counter()
                with db.transaction() as session:
                    done = people.do_merge_people(
                        session, actor=actor, person_id=merged, into_id=kept, now=NOW
                    )
                merge_s.append(time.perf_counter() - t)
                merge_ids.append(done.id)
            undo_s: list[float] = []
            for merge_id in merge_ids:
                t = time.perf_counter()
                with db.transaction() as session:
                    people.do_undo_merge(session, actor=actor, merge_id=merge_id, now=NOW)
                undo_s.append(time.perf_counter() - t)
            rekey: list[float] = []
            for merged, kept in pairs:
                t = time.perf_counter()
                with db.transaction() as session:
                    moved = cast(
                        CursorResult[Any],
                        session.execute(
                            text("UPDATE events SET actor_id = :to WHERE actor_id = :frm"),
                            {"to": f"p:{kept}", "frm": str(merged)},
                        ),
                    ).rowcount
                rekey.append(time.perf_counter() - t)
                if moved != EVENTS_PER_PERSON:
                    fail("people", f"re-keying moved {moved} events, not {EVENTS_PER_PERSON}")
            merge = _ms(merge_s)
            figures["merge"] = merge
            figures["undo"] = _ms(undo_s)
            figures["baseline_commit_floor"] = _ms(floor)
            figures["baseline_rekey_events"] = _ms(rekey)

            # The ladder's recomputation job, once, forced full (a background job).
            if not args.skip_job:
                t = time.perf_counter()
                done_run = compute_ladder(db, workspace_id=w, lake_path=lake, now=NOW, force=True)
                figures["ladder_job_full_s"] = round(time.perf_counter() - t, 1)
                figures["ladder_job_stored"] = str(done_run.stored)
        finally:
            db.dispose()
    return {
        "figures": figures,
        "targets": {
            "segment_count_slowest_p50_ms": target(
                worst_segment,
                "<= 1000 ms at 1 M people",
                worst_segment <= 1000,
                mode=mode,
                full_size_only=True,
            ),
            "ladder_board_p95_ms": target(
                worst_ladder,
                "<= 1000 ms at 1 M people",
                worst_ladder <= 1000,
                mode=mode,
                full_size_only=True,
            ),
            "list_search_p95_ms": target(
                search_p95,
                "<= 200 ms at 1 M people",
                search_p95 <= 200,
                mode=mode,
                full_size_only=True,
            ),
            "merge_1000_events_p95_ms": target(
                merge["p95_ms"], "<= 100 ms", merge["p95_ms"] <= 100, mode=mode
            ),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode_argument(
        parser,
        quick="100,000 people, 1 M events in the lake, 20 merges",
        smoke="2,000 people, 20,000 events, 3 merges",
    )
    parser.add_argument("--people", type=int, default=None)
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--merges", type=int, default=None)
    parser.add_argument("--searches", type=int, default=None, help="requests per search text")
    parser.add_argument(
        "--postgres",
        default=None,
        metavar="URL",
        help="a PostgreSQL server (a database im2_bench_people is made on it); "
        "default: a temporary SQLite file",
    )
    parser.add_argument("--skip-job", action="store_true", help="do not time the ladder job")
    parser.add_argument(
        "--mentions",
        type=int,
        default=0,
        help="listening mentions in the workspace; times the profile timeline, which matches "
        "them to people's social accounts",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        metavar="FILE",
        help="SQLite only: build the database in FILE and keep it; when FILE exists already, "
        "migrate it and time only the segment counts (to compare query changes on one build)",
    )
    parser.add_argument(
        "--recount",
        action="store_true",
        help="with --postgres: migrate the database im2_bench_people an earlier run left on "
        "the server and time only the segment counts",
    )
    args = parser.parse_args()
    mode = mode_of(args)
    sizes = {
        Mode.FULL: (1_000_000, 10_000_000, 50, 20),
        Mode.QUICK: (100_000, 1_000_000, 20, 10),
        Mode.SMOKE: (2_000, 20_000, 3, 3),
    }[mode]
    args.people = args.people or sizes[0]
    args.events = args.events or sizes[1]
    args.merges = args.merges or sizes[2]
    args.searches = args.searches or sizes[3]
    if args.people < 4 * args.merges:
        parser.error("need at least four people per merge")
    if args.keep is not None and args.postgres:
        parser.error("--keep is for SQLite")
    if args.recount and not args.postgres:
        parser.error("--recount is for --postgres (on SQLite: --keep FILE)")
    reuse = args.recount or (args.keep is not None and args.keep.exists())
    result = _recount(args, mode) if reuse else run(args, mode)
    emit("people", result["figures"], result["targets"], mode=mode)


if __name__ == "__main__":
    main()
