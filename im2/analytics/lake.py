"""The event lake: events moved from the database into day-partitioned Parquet (docs/lake.md).

Layout, Hive style, readable by DuckDB, pyarrow, ClickHouse, Trino and Spark as is:

    <lake_path>/events/date=2026-03-02/part-<first_id>-<last_id>.parquet

`date` is the UTC day of `occurred_at`; each file holds the events of one batch that fell on
that day, with the columns of `EVENT_ARROW_SCHEMA` (properties as JSON text), laid out as
`im2.analytics.lake_layout` says (ordered by workspace, actor and id, in small row groups with
statistics, so that a reader of a few actors skips most of a file).

Exactly once, across crashes: a batch is written to hidden temporary files, fsynced and renamed
into place, and only then does the high-water mark (`analytics_lake_marks.last_id`) advance, in
the same transaction that locked it. A crash before the mark commits leaves files whose ids are
all above the mark; the next run deletes those (they are rewritten from the same rows), and
readers never see them because they take the lake only for ids <= mark and the database for the
rest. Rows are never deleted from `events` unless `lake_retention_days` says so.

The files may live in S3-compatible object storage instead of the folder (IM2_LAKE_URL,
`im2.analytics.lake_fs`): the same layout and the same mark as the commit point; a file is
uploaded whole under its final key instead of renamed into place.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.analytics.lake_fs import ObjectLake, object_lake_of
from im2.analytics.lake_layout import write_lake_file
from im2.analytics.models import LakeMark
from im2.db import Database
from im2.events.service import EVENT_ARROW_SCHEMA, delete_events_through, last_event_id

log = logging.getLogger("im2.analytics")

STREAM = "events"
EVENTS_DIR = "events"
_PART = re.compile(r"^part-(\d+)-(\d+)\.parquet$")
_DAY = re.compile(r"date=(\d{4}-\d{2}-\d{2})$")
# A lake file: a path in a local lake, an `s3://bucket/key` name in an object lake.
LakeFile = Path | str
# Temporary files of a rewrite in place (`replace_lake_file`): hidden, never a reader's glob.
REWRITE_PREFIX = ".rewrite-"
_COLUMNS = (
    "id, occurred_at, workspace_id, campaign_id, activity_id, actor_type, actor_id, kind, "
    "channel, referrer, CAST(properties AS TEXT) AS properties"
)


@dataclass(frozen=True, slots=True)
class MoveResult:
    moved: int
    batches: int
    files: int
    last_id: int
    removed_orphans: int
    deleted_from_db: int


def events_dir(lake_path: Path) -> Path:
    return lake_path / EVENTS_DIR


def lake_glob(lake_path: Path) -> str:
    """The glob every reader uses; hidden temporary files never match it."""
    remote = object_lake_of(lake_path)
    if remote is not None:
        return remote.uri(f"{remote.events_root}/date=*/*.parquet")
    return str(events_dir(lake_path) / "date=*" / "*.parquet")


def file_day(file: LakeFile) -> date:
    """The UTC day a lake file holds (its partition folder's `date=`)."""
    parent = str(file).rsplit("/", 2)[-2]
    match = _DAY.match(parent)
    if match is None:
        raise ValueError(f"not a lake file: {file}")
    return date.fromisoformat(match.group(1))


def lake_files(lake_path: Path) -> list[tuple[LakeFile, int, int]]:
    """Every committed-looking part file with its id range, in no particular order."""
    remote = object_lake_of(lake_path)
    if remote is not None:
        found_remote: list[tuple[LakeFile, int, int]] = []
        for uri in remote.list_events():
            _root, folder, name = uri.rsplit("/", 2)
            match = _PART.match(name)
            if match and folder.startswith("date="):
                found_remote.append((uri, int(match.group(1)), int(match.group(2))))
        return found_remote
    root = events_dir(lake_path)
    if not root.is_dir():
        return []
    found: list[tuple[LakeFile, int, int]] = []
    for day in root.iterdir():
        if not day.name.startswith("date=") or not day.is_dir():
            continue
        for file in day.iterdir():
            match = _PART.match(file.name)
            if match:
                found.append((file, int(match.group(1)), int(match.group(2))))
    return found


def rows_to_arrow(rows: Sequence[Sequence[Any]]) -> pa.Table:
    """Driver rows (in `_COLUMNS` order) to an Arrow table of `EVENT_ARROW_SCHEMA`.

    SQLite hands back timestamps as text in UTC without an offset; PostgreSQL as aware
    datetimes; both end as timestamp[us, UTC].
    """
    if not rows:
        return EVENT_ARROW_SCHEMA.empty_table()
    columns = list(zip(*rows, strict=True))
    occurred = columns[1]
    if isinstance(occurred[0], str):
        times = (
            pa.array(occurred, pa.string())
            .cast(pa.timestamp("us"))
            .cast(pa.timestamp("us", tz="UTC"))
        )
    else:
        times = pa.array(occurred, pa.timestamp("us", tz="UTC"))
    arrays = [
        pa.array(columns[0], pa.int64()),
        times,
        *(pa.array(columns[i], EVENT_ARROW_SCHEMA.field(i).type) for i in range(2, 11)),
    ]
    return pa.Table.from_arrays(arrays, schema=EVENT_ARROW_SCHEMA)


def read_events_after(
    session: Session,
    *,
    after_id: int,
    limit: int | None = None,
    campaign_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pa.Table:
    """Events with id > after_id (optionally of one campaign and time range), by id.

    Plain SQL through the driver: the ORM's per-row objects would cost ten times the time of
    the move itself.
    """
    where = ["id > :after"]
    params: dict[str, Any] = {"after": after_id}
    if campaign_id is not None:
        where.append("campaign_id = :campaign")
        params["campaign"] = campaign_id
    bind_time = _time_param(session)
    if since is not None:
        where.append("occurred_at >= :since")
        params["since"] = bind_time(since)
    if until is not None:
        where.append("occurred_at < :until")
        params["until"] = bind_time(until)
    sql = f"SELECT {_COLUMNS} FROM events WHERE {' AND '.join(where)} ORDER BY id"  # noqa: S608
    if limit is not None:
        sql += " LIMIT :limit"
        params["limit"] = limit
    # Straight through the driver's cursor, inside the session's transaction: SQLAlchemy's
    # result rows (one Python object per row, type processing per value) cost about as much
    # as the rest of the move. sqlite3 takes :name parameters; psycopg takes %(name)s.
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        sql = re.sub(r":(\w+)", r"%(\1)s", sql)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return rows_to_arrow(rows)


def _sqlite_file(session: Session) -> str | None:
    """The SQLite database file behind the session, or None (PostgreSQL, in-memory SQLite)."""
    url = session.connection().engine.url
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


class ColumnarReader:
    """The columnar reader process of `im2.analytics.sqlite_arrow` for one SQLite file.

    `prefetch` asks for the next batch while this process writes the current one, so that
    reading (there) and writing Parquet (here) overlap on two cores."""

    def __init__(self, path: str) -> None:
        self._process = subprocess.Popen(  # noqa: S603 (our own module, our own interpreter)
            [sys.executable, "-m", "im2.analytics.sqlite_arrow", path, _COLUMNS],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._pending: tuple[int, int] | None = None

    def prefetch(self, *, after_id: int, limit: int) -> None:
        if self._pending is not None:
            self._receive()
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(f"{int(after_id)} {int(limit)}\n".encode())
            stdin.flush()
        except OSError as error:
            raise self._failed() from error
        self._pending = (after_id, limit)

    def read(self, *, after_id: int, limit: int) -> pa.Table:
        """Events with id > after_id, by id, at most `limit`, as `EVENT_ARROW_SCHEMA`."""
        if self._pending != (after_id, limit):
            self.prefetch(after_id=after_id, limit=limit)
        return arrow_to_events(self._receive())

    def _receive(self) -> pa.Table:
        stdout = self._process.stdout
        assert stdout is not None
        self._pending = None
        try:
            return pa.ipc.open_stream(stdout).read_all()
        except (OSError, pa.ArrowInvalid) as error:
            raise self._failed() from error

    def _failed(self) -> RuntimeError:
        code = self._process.poll()
        return RuntimeError(f"the lake's SQLite reader process failed (exit code {code})")

    def close(self) -> None:
        process = self._process
        if process.stdin is not None:
            with contextlib.suppress(OSError):  # a reader that died leaves a broken pipe
                process.stdin.close()
        if self._pending is not None:
            # A batch asked for but not taken: the reader only reads, so stopping it is safe.
            process.kill()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _columnar_reader(session: Session, *, mark: int, columnar_from: int) -> ColumnarReader | None:
    """A columnar reader when the database is a SQLite file with a backlog of at least
    `columnar_from` events (below that, starting a process costs more than it saves)."""
    path = _sqlite_file(session)
    if path is None:
        return None
    newest = last_event_id(session)
    if newest - mark < columnar_from:
        return None
    return ColumnarReader(path)


def arrow_to_events(table: pa.Table) -> pa.Table:
    """An Arrow table in `_COLUMNS` order (SQLite's text timestamps, columns whose type could
    not be inferred from NULLs) to `EVENT_ARROW_SCHEMA`."""
    if table.num_rows == 0:
        return EVENT_ARROW_SCHEMA.empty_table()
    occurred = table.column(1)
    if pa.types.is_string(occurred.type) or pa.types.is_large_string(occurred.type):
        occurred = occurred.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
    arrays = [
        table.column(i).cast(field.type) if i != 1 else occurred.cast(field.type)
        for i, field in enumerate(EVENT_ARROW_SCHEMA)
    ]
    return pa.Table.from_arrays(arrays, schema=EVENT_ARROW_SCHEMA)


def _time_param(session: Session) -> Callable[[datetime], Any]:
    # SQLite keeps UTC wall-clock text (see im2.db.UTCDateTime); compare like with like.
    if session.get_bind().dialect.name == "sqlite":
        return lambda value: value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return lambda value: value


def get_mark(session: Session) -> int:
    """The last event id that is safely in the lake (0 before the first move)."""
    last = session.scalar(select(LakeMark.last_id).where(LakeMark.stream == STREAM))
    return int(last or 0)


def _lock_mark(session: Session, now: datetime) -> LakeMark:
    mark = session.scalar(select(LakeMark).where(LakeMark.stream == STREAM).with_for_update())
    if mark is None:
        mark = LakeMark(stream=STREAM, last_id=0, moved=0, updated_at=now)
        session.add(mark)
        session.flush()
    return mark


def remove_orphans(lake_path: Path, *, mark: int) -> int:
    """Delete files of batches whose mark never committed (their ids are all above it)."""
    remote = object_lake_of(lake_path)
    removed = 0
    for file, first, _last in lake_files(lake_path):
        if first > mark:
            if remote is not None:
                remote.delete(str(file))
            else:
                Path(file).unlink(missing_ok=True)
            removed += 1
    if remote is not None:
        return removed  # no temporary objects: uploads are never visible before they complete
    root = events_dir(lake_path)
    if root.is_dir():
        for tmp in root.glob("date=*/.part-*.tmp"):
            tmp.unlink(missing_ok=True)
    return removed


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_lake_file(file: Path | str, table: pa.Table, *, remote: ObjectLake | None) -> int:
    """Put `table` in place of a lake file, under the same name, in the lake's layout; the
    bytes written. Atomic: a hidden temporary file (`REWRITE_PREFIX`, which no reader's glob
    matches and `im2.privacy.lake_rewrite.remove_leftovers` deletes after a crash), fsync,
    rename over the old name, fsync of the folder; in an object lake one upload under the same
    key (S3 replaces an object whole)."""
    if remote is not None:
        return remote.put_parquet(str(file), table)
    file = Path(file)
    tmp = file.parent / f"{REWRITE_PREFIX}{secrets.token_hex(6)}-{file.name}.tmp"
    try:
        with tmp.open("wb") as handle:
            write_lake_file(table, handle)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(file)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(file.parent)
    return file.stat().st_size


def write_batch(lake_path: Path, table: pa.Table) -> list[LakeFile]:
    """Write one batch (sorted by id) as one file per UTC day, in the lake's layout
    (`write_lake_file`); each appears whole or not at all."""
    remote = object_lake_of(lake_path)
    days = pc.cast(table.column("occurred_at"), pa.date32())
    written: list[LakeFile] = []
    for day in pc.unique(days).to_pylist():
        part = table.filter(pc.equal(days, pa.scalar(day, pa.date32())))
        ids = part.column("id")
        first, last = ids[0].as_py(), ids[-1].as_py()
        if remote is not None:
            # Under the final key at once: S3 shows an object only when its upload completed.
            uri = remote.uri(
                f"{remote.events_root}/date={day.isoformat()}/part-{first}-{last}.parquet"
            )
            remote.put_parquet(uri, part)
            written.append(uri)
            continue
        folder = events_dir(lake_path) / f"date={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"part-{first}-{last}.parquet"
        tmp = folder / f".part-{first}-{last}.parquet.tmp"
        with tmp.open("wb") as handle:
            write_lake_file(part, handle)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(final)
        _fsync_dir(folder)
        written.append(final)
    return written


def move_events_to_lake(
    db: Database,
    *,
    lake_path: Path,
    now: datetime,
    batch_size: int = 100_000,
    max_batches: int | None = None,
    settle_seconds: float = 5.0,
    retention_days: int | None = None,
    after_write: Callable[[list[LakeFile]], None] | None = None,
    progress: Callable[[int], None] | None = None,
    columnar_from: int = 50_000,
) -> MoveResult:
    """Move events to the lake in batches until none are left (or `max_batches` ran).

    Events younger than `settle_seconds` stay in the database for the next run: on PostgreSQL
    ids are handed out before commit, so a young id gap may still fill in; waiting for it keeps
    the mark from jumping over an event that commits late. `after_write` runs between the files
    and the mark (tests use it to crash there). On a SQLite file with a backlog of at least
    `columnar_from` events, batches are read by a columnar reader process (`ColumnarReader`).
    """
    moved = batches = files = removed = deleted = 0
    last_id = 0
    cutoff = now - timedelta(seconds=settle_seconds)
    reader: ColumnarReader | None = None
    try:
        while max_batches is None or batches < max_batches:
            with db.transaction() as session:
                mark = _lock_mark(session, now)
                last_id = mark.last_id
                removed += remove_orphans(lake_path, mark=last_id)
                if reader is None and batches == 0:
                    reader = _columnar_reader(session, mark=last_id, columnar_from=columnar_from)
                table = None
                if reader is not None:
                    try:
                        table = reader.read(after_id=last_id, limit=batch_size)
                    except RuntimeError:
                        # The reader process is an accelerator, never a requirement: finish
                        # this run through the session (its stderr carries the cause).
                        log.warning("lake: columnar reader failed; reading rows instead")
                        reader.close()
                        reader = None
                if table is None:
                    table = read_events_after(session, after_id=last_id, limit=batch_size)
                young = pc.greater_equal(
                    table.column("occurred_at"), pa.scalar(cutoff, pa.timestamp("us", tz="UTC"))
                )
                first_young = pc.index(young, True).as_py()
                full = table.num_rows == batch_size
                if first_young >= 0:
                    table = table.slice(0, first_young)
                    full = False
                if table.num_rows == 0:
                    break
                if full and reader is not None:
                    next_after = int(table.column("id")[-1].as_py())
                    reader.prefetch(after_id=next_after, limit=batch_size)
                written = write_batch(lake_path, table)
                if after_write is not None:
                    after_write(written)
                last_id = int(table.column("id")[-1].as_py())
                mark.last_id = last_id
                mark.moved += table.num_rows
                mark.updated_at = now
                if retention_days is not None:
                    deleted += _delete_expired(
                        session, mark=last_id, before=now - timedelta(days=retention_days)
                    )
            moved += table.num_rows
            batches += 1
            files += len(written)
            if progress is not None:
                progress(table.num_rows)
            if not full:
                break
    finally:
        if reader is not None:
            reader.close()
    return MoveResult(
        moved=moved,
        batches=batches,
        files=files,
        last_id=last_id,
        removed_orphans=removed,
        deleted_from_db=deleted,
    )


def _delete_expired(session: Session, *, mark: int, before: datetime) -> int:
    """Retention: only rows already in the lake (id <= mark) and older than the limit go."""
    return delete_events_through(session, last_id=mark, before=before)


def read_lake(lake_path: Path, *, mark: int) -> pa.Table:
    """Every event in the lake up to the mark, through pyarrow's dataset reader (tests, exports)."""
    import pyarrow.dataset as ds

    remote = object_lake_of(lake_path)
    if remote is not None:
        files = [remote.key(str(f)) for f, _first, last in lake_files(lake_path) if last <= mark]
        if not files:
            return EVENT_ARROW_SCHEMA.empty_table()
        dataset = ds.dataset(
            files,
            format="parquet",
            filesystem=remote.fs,
            partitioning=ds.HivePartitioning.discover(),
            partition_base_dir=remote.events_root,
        )
        return dataset.to_table(filter=ds.field("id") <= mark)
    root = events_dir(lake_path)
    if not root.is_dir():
        return EVENT_ARROW_SCHEMA.empty_table()
    dataset = ds.dataset(root, format="parquet", partitioning="hive")
    return dataset.to_table(filter=ds.field("id") <= mark)
