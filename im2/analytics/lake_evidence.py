"""Referral evidence already in the lake, rewritten without personal values.

The evidence migration (5c0f3e9a7b21) rewrote the plain IP addresses, user agents and e-mail
addresses of held invites, held rewards and their `reward.held` events in the database, as
`im2.activities.formats.referral.abuse.scrub_details` writes them; the `reward.held` events moved
to the lake before it kept their plain evidence there. `scrub_lake_evidence` rewrites those,
from the lake jobs (`im2.privacy.lake_rewrite.privacy_lake_rewrite_job`, after it rewrites
files for erasures: one job, so two rewrites of one file never race).

Once per lake, then only what is new: how far the lake was checked is the `last_id` of the
`analytics_lake_marks` row of stream `EVIDENCE_STREAM`, moved up to the events' mark after each
complete run. A run checks only the files above it (files keep their names and id ranges when
rewritten): the first run reads the `reward.held` rows of the whole lake, the next ones the
files moved since. Each file is rewritten atomically (`lake.replace_lake_file`), and
`scrub_details` leaves evidence in the new form as it is, so a run killed halfway, or run again,
finds only what is left to do.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from im2.activities.formats.referral.abuse import scrub_details
from im2.analytics.lake import get_mark, lake_files, replace_lake_file
from im2.analytics.lake_fs import ObjectLake, object_lake_of, register_duckdb
from im2.analytics.models import LakeMark
from im2.analytics.query import announce_rewrite
from im2.db import Database

log = logging.getLogger("im2.analytics")

EVIDENCE_STREAM = "reward_evidence"
HELD_KIND = "reward.held"


@dataclass(frozen=True, slots=True)
class EvidenceResult:
    files_checked: int
    files_rewritten: int
    rows_changed: int
    checked_through: int


def scrubbed_properties(properties: str | None) -> str | None:
    """A `reward.held` event's properties (JSON text) with the evidence details in the new
    form, or None when there is nothing to change."""
    if not properties or "evidence" not in properties:
        return None
    try:
        value = json.loads(properties)
    except ValueError:
        return None
    evidence = value.get("evidence") if isinstance(value, dict) else None
    if not isinstance(evidence, dict) or not isinstance(evidence.get("details"), dict):
        return None
    details = scrub_details(evidence["details"])
    if details == evidence["details"]:
        return None
    return json.dumps({**value, "evidence": {**evidence, "details": details}}, ensure_ascii=False)


def _candidates(files: list[str], remote: ObjectLake | None) -> list[str]:
    """The files holding a `reward.held` event with evidence (checked exactly per row later)."""
    import duckdb

    if not files:
        return []
    con = duckdb.connect()
    if remote is not None:
        register_duckdb(con, remote)
    try:
        rows = con.sql(
            "SELECT DISTINCT filename FROM read_parquet($files, filename = true, "
            "hive_partitioning = false) WHERE kind = $kind AND contains(properties, 'evidence')",
            params={"files": files, "kind": HELD_KIND},
        ).fetchall()
    finally:
        con.close()
    return sorted(str(row[0]) for row in rows)


def _scrub_file(file: str, remote: ObjectLake | None) -> int:
    """Rewrite one file's old-form evidence; the rows changed (0: the file is left alone)."""
    table = remote.read_table(file) if remote is not None else pq.read_table(file)
    kinds = table.column("kind").to_pylist()
    properties = table.column("properties").to_pylist()
    changed = 0
    for i, kind in enumerate(kinds):
        if kind == HELD_KIND and (new := scrubbed_properties(properties[i])) is not None:
            properties[i] = new
            changed += 1
    if changed:
        index = table.schema.get_field_index("properties")
        table = table.set_column(
            index, table.schema.field(index), pa.array(properties, pa.string())
        )
        replace_lake_file(file if remote is not None else Path(file), table, remote=remote)
    return changed


def scrub_lake_evidence(db: Database, *, lake_path: Path, now: datetime) -> EvidenceResult:
    """Rewrite the lake's `reward.held` events whose evidence still holds plain personal
    values (see the module); idempotent, and cheap once the lake was checked."""
    remote = object_lake_of(lake_path)
    with db.session() as session:
        mark = get_mark(session)
        checked = session.scalar(select(LakeMark.last_id).where(LakeMark.stream == EVIDENCE_STREAM))
    checked = int(checked or 0)
    if mark <= checked:
        return EvidenceResult(0, 0, 0, checked)
    files = sorted(str(f) for f, _first, last in lake_files(lake_path) if checked < last <= mark)
    rewritten = rows = 0
    for file in _candidates(files, remote):
        changed = _scrub_file(file, remote)
        rows += changed
        rewritten += 1 if changed else 0
    if rewritten:
        # Kept rollups were built from the old files (`announce_rewrite`, as an erasure does).
        announce_rewrite(lake_path)
        log.info("lake: evidence rewritten in %d events of %d files", rows, rewritten)
    with db.transaction() as session:
        row = session.scalar(
            select(LakeMark).where(LakeMark.stream == EVIDENCE_STREAM).with_for_update()
        )
        if row is None:
            row = LakeMark(stream=EVIDENCE_STREAM, last_id=0, moved=0, updated_at=now)
            session.add(row)
        row.last_id = max(int(row.last_id or 0), mark)
        row.moved = int(row.moved or 0) + rows
        row.updated_at = now
    return EvidenceResult(len(files), rewritten, rows, mark)
