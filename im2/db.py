"""Engine, sessions and the declarative base.

Services never commit. An entry point (a request, a job, a CLI command) opens
`Database.transaction()`, calls services, and the block commits or rolls back as one unit.
Work that must only happen once the data is durable (live updates, webhooks) is queued with
`on_commit(session, fn)` and runs after the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, Table, create_engine, event, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out, on every engine (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012 (SQLAlchemy API)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (below) instead of pysqlite's implicit handling.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Every commit is durable: with WAL, FULL syncs the log before COMMIT returns, so an
        # acknowledged reward, redemption, spend, conversion or consent survives a power cut.
        # NORMAL would only sync at checkpoints and could lose the last commits (docs/
        # architecture.md, "Durability"). The group commit pays one sync per batch.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A write transaction takes the write lock up front: a deferred BEGIN that upgrades
        # later fails at once with "database is locked" when another writer got there first.
        if connection.get_execution_options().get("sqlite_write"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


_AFTER_COMMIT = "im2_after_commit"


def on_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` once the session's current transaction has committed."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


_SIGNALS = "im2_signals"
_signal_log = logging.getLogger("im2.db")


class Signals:
    """After-commit announcements of one database: a writer announces `(topic, key)` (e.g.
    new events of campaign 12) in its transaction, and the listeners of the topic hear the key
    once that transaction has committed, in the committing thread. They must be quick (hand
    the key on, e.g. to an event loop); an error in one is logged, never raised into the
    writer. The app's live hub listens to new events this way (docs/architecture.md)."""

    def __init__(self) -> None:
        self._listeners: dict[str, tuple[Callable[[int], None], ...]] = {}
        self._lock = threading.Lock()

    def listen(self, topic: str, listener: Callable[[int], None]) -> Callable[[], None]:
        """Add a listener; returns what removes it."""
        with self._lock:
            self._listeners[topic] = (*self._listeners.get(topic, ()), listener)

        def remove() -> None:
            with self._lock:
                left = tuple(fn for fn in self._listeners.get(topic, ()) if fn is not listener)
                self._listeners[topic] = left

        return remove

    def listeners(self, topic: str) -> tuple[Callable[[int], None], ...]:
        return self._listeners.get(topic, ())


def announce(session: Session, topic: str, key: int) -> None:
    """Tell the listeners of `topic` about `key` once the session's transaction commits (not
    at all if it rolls back, or if nobody listens)."""
    signals: Signals | None = session.info.get(_SIGNALS)
    listeners = signals.listeners(topic) if signals is not None else ()
    if not listeners:
        return

    def deliver() -> None:
        for listener in listeners:
            try:
                listener(key)
            except Exception:
                _signal_log.exception("a listener of %s failed", topic)

    on_commit(session, deliver)


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.signals = Signals()
        info = {_SIGNALS: self.signals}
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, info=info)
        self._write_engine = self.engine.execution_options(sqlite_write=True)
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False, info=info)
        # SQLite has one write lock. Waiting for it in SQLite's busy handler means sleeping and
        # retrying, and under a burst an unlucky writer can keep missing it until the busy
        # timeout fails it; queueing the writers of this process on a lock of our own first is
        # fair and keeps the busy handler for other processes. PostgreSQL locks rows instead.
        self._writer_queue: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if self.engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )
        self._committer: GroupCommitter | None = None
        self._committer_lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read session; anything it writes is rolled back at the end."""
        with self._sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One atomic unit of work: commits at the end of the block, rolls back on error."""
        with self._writer_queue, self._write_sessions() as session:
            with session.begin():
                yield session
            callbacks: list[Callable[[], None]] = session.info.pop(_AFTER_COMMIT, [])
        for callback in callbacks:
            callback()

    def group_commit(self, work: BatchWork, item: Any) -> Future[Any]:
        """Hand `item` to this database's writer thread; the future settles once the
        transaction holding it has committed (or with the item's own error).

        The writer commits everything that arrived while its previous commit ran in one
        transaction: `work(session, items)` gets the items queued with the same `work` and
        returns one outcome per item, a result or an exception for an item that broke a rule
        (it must have written nothing for that item). If `work` raises instead, the batch is
        rolled back and each item runs alone in a savepoint, so one bad item never fails the
        others. Callbacks queued with `on_commit` run after the commit, before the futures
        settle. On SQLite every commit is `synchronous=FULL` (see `_configure_sqlite`): a
        settled future means the write survives a power cut, and one sync covers the batch.
        """
        return self._group_committer().submit(work, item)

    async def group_commit_here(self, work: BatchWork, item: Any) -> Any:
        """`group_commit` awaited on the running event loop: the outcome, or the item's error
        raised. A batch's answers reach the loop together (see `_settle_jobs`); a request
        cancelled while queued is dropped unwritten, as with `group_commit`."""
        return await self._group_committer().submit_here(work, item)

    def _group_committer(self) -> GroupCommitter:
        committer = self._committer
        if committer is None:
            with self._committer_lock:
                if self._committer is None:
                    self._committer = GroupCommitter(self)
                committer = self._committer
        return committer

    def dispose(self) -> None:
        with self._committer_lock:
            committer, self._committer = self._committer, None
        if committer is not None:
            committer.stop()
        self.engine.dispose()


BatchWork = Callable[[Session, Sequence[Any]], Sequence[Any]]
"""`work(session, items) -> outcomes`: one result or exception per item, in order."""


@dataclass(slots=True)
class _Job:
    work: BatchWork
    item: Any
    future: Future[Any] | asyncio.Future[Any]
    # Set when `future` belongs to this event loop: it is settled there, and all of a batch's
    # futures of one loop in one hand-over (one wake-up of the loop, not one per item).
    loop: asyncio.AbstractEventLoop | None = None

    def claim(self) -> bool:
        """Mark the job running; False when its request was cancelled while it was queued."""
        if isinstance(self.future, Future):
            return self.future.set_running_or_notify_cancel()
        return not self.future.cancelled()


def _settle(future: Future[Any] | asyncio.Future[Any], outcome: Any) -> None:
    if future.done():  # an awaiting request cancelled after its batch had begun
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _settle_all(settled: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, outcome in settled:
        _settle(future, outcome)


def _settle_jobs(jobs: list[_Job], outcomes: Sequence[Any]) -> None:
    """Answer each job: a thread's future at once, a loop's futures in one call per loop
    (each `call_soon_threadsafe` wakes the loop and hands the GIL over, once per batch)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for job, outcome in zip(jobs, outcomes, strict=True):
        if job.loop is None or isinstance(job.future, Future):
            _settle(job.future, outcome)
        else:
            by_loop.setdefault(job.loop, []).append((job.future, outcome))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits any more
            loop.call_soon_threadsafe(_settle_all, settled)


class GroupCommitter:
    """One writer thread per database: group commit for hot write paths (votes).

    SQLite takes one writer at a time and every commit costs a lock hand-over and a sync; a
    request per transaction makes writers queue for each other. Here requests queue their
    work, the writer takes everything queued, runs it in one transaction and commits once,
    and each request is answered only after that commit (or with its own error).
    """

    MAX_BATCH = 512

    def __init__(self, db: Database) -> None:
        self._db = db
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="im2-group-commit", daemon=True)
        self._thread.start()

    def submit(self, work: BatchWork, item: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put(_Job(work, item, future))
        return future

    def submit_here(self, work: BatchWork, item: Any) -> asyncio.Future[Any]:
        """`submit` for a coroutine: the future is the running loop's."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Job(work, item, future, loop))
        return future

    def stop(self, timeout: float = 10.0) -> None:
        self._queue.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            while len(jobs) < self.MAX_BATCH:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                jobs.append(job)
            # A request cancelled while queued (its client went away) is dropped unwritten;
            # once a job is marked running it can no longer be cancelled, so its outcome can
            # always be set.
            jobs = [job for job in jobs if job.claim()]
            if jobs:
                self._commit(jobs)

    def _commit(self, jobs: list[_Job]) -> None:
        try:
            try:
                outcomes, callbacks = self._transaction(jobs, isolate=False)
            except Exception:
                log.info("a batch of %d failed as a whole; running each alone", len(jobs))
                outcomes, callbacks = self._transaction(jobs, isolate=True)
        except BaseException as exc:  # the commit itself failed: nothing of the batch is kept
            _settle_jobs(jobs, [exc] * len(jobs))
            if not isinstance(exc, Exception):
                raise
            return
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("an after-commit callback failed")
        _settle_jobs(jobs, outcomes)

    def _transaction(
        self, jobs: list[_Job], *, isolate: bool
    ) -> tuple[list[Any], list[Callable[[], None]]]:
        db = self._db
        outcomes: list[Any] = [None] * len(jobs)
        with (
            db._writer_queue,
            db._write_engine.connect() as connection,
            Session(
                bind=connection, expire_on_commit=False, info={_SIGNALS: db.signals}
            ) as session,
        ):
            with session.begin():
                if isolate:
                    for index, job in enumerate(jobs):
                        outcomes[index] = self._alone(session, job)
                else:
                    groups: dict[BatchWork, list[int]] = {}
                    for index, job in enumerate(jobs):
                        groups.setdefault(job.work, []).append(index)
                    for work, indexes in groups.items():
                        results = list(work(session, [jobs[i].item for i in indexes]))
                        if len(results) != len(indexes):
                            raise RuntimeError("batch work must return one outcome per item")
                        for i, result in zip(indexes, results, strict=True):
                            outcomes[i] = result
            callbacks: list[Callable[[], None]] = session.info.pop(_AFTER_COMMIT, [])
        return outcomes, callbacks

    @staticmethod
    def _alone(session: Session, job: _Job) -> Any:
        pending: list[Callable[[], None]] = session.info.setdefault(_AFTER_COMMIT, [])
        queued = len(pending)
        try:
            with session.begin_nested():
                (outcome,) = job.work(session, [job.item])
                if isinstance(outcome, BaseException):
                    raise outcome  # roll back whatever this item wrote
        except Exception as exc:
            del pending[queued:]  # its after-commit work goes with it
            return exc
        return outcome


def utcnow() -> datetime:
    return datetime.now(UTC)


def insert_ids(session: Session, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert the rows, a few hundred per multi-row `INSERT … RETURNING id`, and return their
    new ids in the rows' order (a batch of ballots, an erasure's stand-ins and records).

    PostgreSQL: `sort_by_parameter_order` batches (SQLAlchemy matches the rows by the ids'
    sequence). SQLite: there SQLAlchemy sends one statement per row for it (it trusts no order
    of RETURNING), so the ids come back unordered and are sorted. That is the rows' order:
    SQLite gives each new row of an INTEGER PRIMARY KEY table the largest rowid + 1, takes a
    VALUES list's rows in their order and the batches in theirs, and no one else writes during
    the transaction (one writer at a time), so the ids are consecutive; checked."""
    if not rows:
        return []
    pk = next(iter(table.primary_key.columns))
    if session.get_bind().dialect.name != "sqlite":
        returned = session.execute(insert(table).returning(pk, sort_by_parameter_order=True), rows)
        return [int(new) for new in returned.scalars()]
    ids = sorted(int(new) for new in session.execute(insert(table).returning(pk), rows).scalars())
    if ids != list(range(ids[0], ids[0] + len(rows))):
        raise RuntimeError(f"{table.name}: new ids not consecutive, their order is unknown")
    return ids
