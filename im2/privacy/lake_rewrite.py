"""The lake part of an erasure: rewrite only the day files that hold the erased person's
events (or others' events naming their share code or participant id), after the erasure's
commit, from its durable record (`privacy_erasures.lake_pending`).

Per file, crash-safe and idempotent: the new file is written to a hidden temporary name
(`.rewrite-….tmp`, which no reader's glob matches), fsynced, renamed over the old one (same
name, so readers' file lists stay valid) and the folder fsynced. A kill -9 at any moment leaves
each file either old or new, whole; the next run deletes leftover temporary files and finds
the files still to do by their content (a rewritten file no longer matches). The webhook
deliveries of the matched events are scrubbed before the files, and the record's mapping is
cleared (`lake_done_at` set) only after the last file: from then on no link back is kept.
In an object lake (IM2_LAKE_URL, `im2.analytics.lake_fs`) the new file is uploaded whole under
the same key instead: S3 replaces an object atomically, so the same holds.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from im2.analytics.lake import REWRITE_PREFIX, events_dir, get_mark, replace_lake_file
from im2.analytics.lake_evidence import scrub_lake_evidence
from im2.analytics.lake_fs import ObjectLake, object_lake_of, register_duckdb
from im2.analytics.query import announce_rewrite, committed_files
from im2.clock import Clock
from im2.config import get_settings
from im2.db import Database
from im2.privacy.erasures.models import Erasure
from im2.privacy.scrub import scrub_deliveries, scrubber

log = logging.getLogger("im2.privacy")

TMP_PREFIX = REWRITE_PREFIX


@dataclass(frozen=True, slots=True)
class RewriteResult:
    erasures: int
    files: int
    rows: int
    bytes_rewritten: int
    lake_bytes: int
    deliveries: int


def remove_leftovers(lake_path: Path) -> int:
    """Temporary files of rewrites a crash interrupted (never visible to readers)."""
    root = events_dir(lake_path)
    removed = 0
    if root.is_dir():
        for tmp in root.glob(f"date=*/{TMP_PREFIX}*.tmp"):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


def _property_pattern(pending: Mapping[str, Any]) -> str | None:
    """A regular expression that finds a participant id or share code of the erased person in
    an event's properties (JSON text); candidates are checked exactly in Python."""
    words = _property_words(pending)
    if not words:
        return None
    return r"[:\[,\s\"](" + "|".join(re.escape(w) for w in words) + r")[,}\]\"]"


def _property_words(pending: Mapping[str, Any]) -> list[str]:
    return [str(p) for p in pending.get("participants", {})] + [
        str(c) for c in pending.get("codes", {})
    ]


# Above this many participant ids and codes, the scan splits each event's properties into
# words and joins them with the wanted ones, instead of one alternation per word (the merged
# mapping of a retention run holds thousands).
PATTERN_WORDS = 200
# Every participant id and share code is one run of these (`im2.sharing.service.ALPHABET`).
WORD = r"[A-Za-z0-9_\-]+"


def _matching(
    files: list[str],
    *,
    workspace_id: int,
    pending: Mapping[str, Any],
    remote: ObjectLake | None = None,
) -> tuple[list[str], list[int], list[tuple[Any, ...]]]:
    """The lake files (and event ids) with events that name the erased people, and those
    events (file, id, actor_id, referrer, properties)."""
    import duckdb

    if not files:
        return [], [], []
    actors = sorted(pending.get("actors", {}))
    codes = sorted(pending.get("codes", {}))
    words = _property_words(pending)
    terms = []
    params: dict[str, Any] = {"files": files, "workspace": workspace_id}
    con = duckdb.connect()
    if remote is not None:
        register_duckdb(con, remote)
    try:
        # The wanted values are tables joined by hash (a list per row would be scanned per
        # row); the terms are fixed text and every value is bound.
        if actors:
            con.register("wanted_actors", pa.table({"v": pa.array(actors, pa.string())}))
            terms.append("actor_id IN (SELECT v FROM wanted_actors)")
        if codes:
            con.register("wanted_codes", pa.table({"v": pa.array(codes, pa.string())}))
            terms.append("referrer IN (SELECT v FROM wanted_codes)")
        if words and len(words) <= PATTERN_WORDS:
            terms.append("regexp_matches(properties, $pattern)")
            params["pattern"] = _property_pattern(pending)
        elif words:
            con.register("wanted_words", pa.table({"v": pa.array(words, pa.string())}))
            terms.append(
                "id IN (SELECT id FROM (SELECT id, unnest(regexp_extract_all(properties, $word)) "
                "AS w FROM read_parquet($files) WHERE workspace_id = $workspace) "
                "WHERE w IN (SELECT v FROM wanted_words))"
            )
            params["word"] = WORD
        if not terms:
            return [], [], []
        sql = (
            "SELECT filename, id, actor_id, referrer, properties "
            "FROM read_parquet($files, filename = true) "
            "WHERE workspace_id = $workspace AND (" + " OR ".join(terms) + ")"
        )
        rows = con.sql(sql, params=params).fetchall()
    finally:
        con.close()
    found: set[str] = set()
    ids: list[int] = []
    hits: list[tuple[Any, ...]] = []
    scrub = scrubber(pending)
    for row in rows:
        filename, event_id, actor_id, referrer, properties = row
        if scrub(actor_id, referrer, properties)[3]:
            found.add(str(filename))
            ids.append(int(event_id))
            hits.append(row)
    return sorted(found), sorted(ids), hits


def rewrite_file(
    file: Path | str,
    *,
    workspace_id: int,
    pending: Mapping[str, Any],
    remote: ObjectLake | None = None,
) -> tuple[int, int]:
    """Rewrite one lake file with the erased person's identifiers replaced; (rows changed,
    bytes written). Atomic: temporary file, fsync, rename over the old name, fsync folder (in
    an object lake: one upload under the same key)."""
    table = remote.read_table(str(file)) if remote is not None else pq.read_table(file)
    scrub = scrubber(pending)
    actors = table.column("actor_id").to_pylist()
    referrers = table.column("referrer").to_pylist()
    properties = table.column("properties").to_pylist()
    workspaces = table.column("workspace_id").to_pylist()
    changed = 0
    for i in range(table.num_rows):
        if workspaces[i] != workspace_id:
            continue
        actor, referrer, props, hit = scrub(actors[i], referrers[i], properties[i])
        if hit:
            actors[i], referrers[i], properties[i] = actor, referrer, props
            changed += 1
    if not changed:
        return 0, 0
    schema = table.schema
    table = table.set_column(
        schema.get_field_index("actor_id"), schema.field("actor_id"), pa.array(actors, pa.string())
    )
    table = table.set_column(
        schema.get_field_index("referrer"),
        schema.field("referrer"),
        pa.array(referrers, pa.string()),
    )
    table = table.set_column(
        schema.get_field_index("properties"),
        schema.field("properties"),
        pa.array(properties, pa.string()),
    )
    # In the lake's layout: the file is re-sorted by the new ids.
    return changed, replace_lake_file(file, table, remote=remote)


def merge_pending(mappings: list[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Several erasures' old → new identifiers as one mapping, in the erasures' order: an id
    that a later erasure replaced again (a stand-in erased in turn) goes straight to its last
    value, as rewriting erasure by erasure would leave it."""
    merged: dict[str, dict[str, Any]] = {"actors": {}, "codes": {}, "participants": {}}
    for mapping in mappings:
        for part, values in merged.items():
            values.update(mapping.get(part) or {})
    for values in merged.values():
        for old, new in values.items():
            seen = {old}
            while str(new) in values and str(new) not in seen:
                seen.add(str(new))
                new = values[str(new)]
            values[old] = new
    return merged


def _named_records(
    hits: list[tuple[Any, ...]], mappings: list[Mapping[str, Any]]
) -> dict[int, set[str]]:
    """Which files each erasure (by position) had events in (actor, referrer or a property
    value naming its person), to record the bytes its part of the rewrite cost."""
    whose: dict[str, dict[str, int]] = {"actors": {}, "codes": {}, "participants": {}}
    for i, mapping in enumerate(mappings):
        for part, index in whose.items():
            for old in mapping.get(part) or {}:
                index.setdefault(str(old), i)
    files: dict[int, set[str]] = {}
    for filename, _id, actor_id, referrer, properties in hits:
        named = set()
        if actor_id is not None and actor_id in whose["actors"]:
            named.add(whose["actors"][actor_id])
        if referrer is not None and referrer in whose["codes"]:
            named.add(whose["codes"][referrer])
        props = json.loads(properties) if isinstance(properties, str) and properties else None
        if isinstance(props, dict):
            for value in props.values():
                for part in ("participants", "codes"):
                    if str(value) in whose[part]:
                        named.add(whose[part][str(value)])
        for i in named:
            files.setdefault(i, set()).add(str(filename))
    return files


def rewrite_pending(
    db: Database,
    *,
    lake_path: Path,
    now: datetime,
    after_file: Callable[[Path | str], None] | None = None,
) -> RewriteResult:
    """Rewrite the lake for every erasure whose lake part is pending, then clear their
    mappings. All pending erasures of a workspace go in one pass: one scan, and each file
    that names any of them rewritten once (a retention run leaves thousands). Safe to run at
    any time, again and again, and after a crash (`after_file` runs after each file: tests
    kill the process there)."""
    remote = object_lake_of(lake_path)
    if remote is None:
        remove_leftovers(lake_path)
    with db.session() as session:
        pending = list(
            session.execute(
                select(Erasure.id, Erasure.workspace_id, Erasure.lake_pending)
                .where(Erasure.lake_done_at.is_(None), Erasure.lake_pending.is_not(None))
                .order_by(Erasure.id)
            )
        )
        mark = get_mark(session)
    files = [f for f, _day in committed_files(lake_path, mark=mark)]
    if remote is not None:
        lake_bytes = sum(remote.size(f) for f in files)
    else:
        lake_bytes = sum(Path(f).stat().st_size for f in files)
    by_workspace: dict[int, list[tuple[int, Mapping[str, Any]]]] = {}
    for erasure_id, workspace_id, mapping in pending:
        by_workspace.setdefault(int(workspace_id), []).append((int(erasure_id), mapping))
    done = rewritten = rows = written = deliveries = 0
    for workspace_id, records in sorted(by_workspace.items()):
        mappings = [m for _id, m in records]
        merged = merge_pending(mappings)
        targets, event_ids, hits = _matching(
            files, workspace_id=workspace_id, pending=merged, remote=remote
        )
        with db.transaction() as session:
            deliveries += scrub_deliveries(session, event_ids=event_ids, pending=merged)
        sizes: dict[str, int] = {}
        for target in targets:
            changed, bytes_written = rewrite_file(
                target if remote is not None else Path(target),
                workspace_id=workspace_id,
                pending=merged,
                remote=remote,
            )
            rows += changed
            sizes[target] = bytes_written
            rewritten += 1 if changed else 0
            if after_file is not None:
                after_file(target if remote is not None else Path(target))
        # The kept rollups were built from the old files: every process's next request
        # rebuilds them (`announce_rewrite` reaches the others through the lake folder).
        # Before the records are closed: a run killed before it announces at the next run.
        announce_rewrite(lake_path)
        named = _named_records(hits, mappings)
        position = {erasure_id: i for i, (erasure_id, _m) in enumerate(records)}
        with db.transaction() as session:
            for start in range(0, len(records), 500):
                chunk = [erasure_id for erasure_id, _m in records[start : start + 500]]
                for record in session.scalars(
                    select(Erasure)
                    .where(Erasure.id.in_(chunk), Erasure.lake_done_at.is_(None))
                    .order_by(Erasure.id)
                    .with_for_update()
                ):
                    size = sum(sizes.get(f, 0) for f in named.get(position[record.id], ()))
                    record.lake_pending = None
                    record.lake_done_at = now
                    record.lake_bytes_rewritten = int(record.lake_bytes_rewritten or 0) + size
                    done += 1
        written += sum(sizes.values())
    if done:
        log.info("privacy: lake rewritten for %s erasures (%s files)", done, rewritten)
    return RewriteResult(
        erasures=done,
        files=rewritten,
        rows=rows,
        bytes_rewritten=written,
        lake_bytes=lake_bytes,
        deliveries=deliveries,
    )


def privacy_lake_rewrite_job(db: Database, clock: Clock) -> RewriteResult:
    """The lake part of erasures committed since the last run (idempotent, crash-safe), then
    the referral evidence the lake kept from before its migration (`im2.analytics.lake_evidence`;
    one job rewrites the lake's files, so two rewrites of one file never race). Erasures go
    first: a file the evidence rewrite cannot read never holds them up."""
    lake_path = get_settings().lake_path
    result = rewrite_pending(db, lake_path=lake_path, now=clock.now())
    scrub_lake_evidence(db, lake_path=lake_path, now=clock.now())
    return result
