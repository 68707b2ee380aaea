"""One item's failure stays that item's: the loop every periodic job runs over its items.

A job over many feeds, draws, wallets or workspaces must never stop at the first one that
fails: a feed whose URL no parser anticipated stopped every later feed, in every workspace,
tick after tick. `each` runs `work` on every item, logs a failure with the job's name and the
item's id, hands it to `failed` (to record it on the item, where there is a place for it), and
goes on. The job runner (`im2.jobs`) still catches what escapes a whole job.

Two shapes:
- `each`: one transaction per item (the job opens it inside `work`), for jobs over rows that
  are each worth a commit (feeds, draws, campaigns, teams, inbox items).
- `each_in_savepoint`: one transaction for a batch, one savepoint per item, for the followers
  of the event log (referral, point rules, webhook outbox) whose cursor moves with the batch.
  A failed item's writes are rolled back to its savepoint and the others keep theirs. An error
  of the database itself (locked, connection lost, a serialization failure or deadlock: an
  `OperationalError`) is no item's fault: it ends the batch, which is retried whole next time.

`dead_letter` records an event a follower could not handle in the audit log of the event's
workspace (action `job.dead_letter`, target the event id), so the follower can move on and the
brand's owners (and whoever fixes the cause) can see and replay it (docs/architecture.md, Jobs).

`follow_events` is the one loop of a follower of the event log: lock its cursor row, read a
batch after it, leave the events younger than the settle time for later, handle each in a
savepoint, dead-letter the ones that fail, move the cursor. `catch_up` is the job around it:
batches, one transaction each, until a batch comes back short.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import takewhile
from typing import Any, Generic, Protocol, TypeVar, cast

from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from im2.clock import Clock
from im2.db import _AFTER_COMMIT, Database
from im2.events.schemas import EventRecord
from im2.events.service import list_events
from im2.workspaces.service import record_audit

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger("im2.jobs")


@dataclass(slots=True)
class Outcome(Generic[T, R]):
    """What `each` did: the results of the items that went well, and the items that failed."""

    results: list[R] = field(default_factory=list)
    failed: list[T] = field(default_factory=list)


def each(
    items: Iterable[T],
    work: Callable[[T], R],
    *,
    job: str,
    key: Callable[[T], object] = lambda item: item,
    failed: Callable[[T, Exception], None] | None = None,
) -> Outcome[T, R]:
    """Run `work` on every item; a failure is logged (with `key(item)`), passed to `failed`,
    and the next item runs. `failed` itself failing is logged too, never raised."""
    outcome: Outcome[T, R] = Outcome()
    for item in items:
        try:
            outcome.results.append(work(item))
        except Exception as exc:
            log.exception("job %s: item %s failed; the other items go on", job, key(item))
            outcome.failed.append(item)
            if failed is not None:
                try:
                    failed(item, exc)
                except Exception:
                    log.exception("job %s: could not record the failure of %s", job, key(item))
    return outcome


def describe(exc: BaseException, limit: int = 500) -> str:
    """An exception as a short line to store on the item (its type and words)."""
    return f"{type(exc).__name__}: {exc}"[:limit]


TRANSIENT = (OperationalError, InterfaceError)
"""Errors of the database, not of an item: a batch that meets one is rolled back and retried."""


def each_in_savepoint(
    session: Session,
    items: Iterable[T],
    work: Callable[[T], R],
    *,
    job: str,
    key: Callable[[T], object] = lambda item: item,
    failed: Callable[[T, Exception], None] | None = None,
) -> Outcome[T, R]:
    """Run `work` on every item inside the caller's transaction, each in a savepoint of its
    own: a failure rolls back that item's writes only, is logged (with `key(item)`) and passed
    to `failed` (which runs in a savepoint too), and the next item runs. A `TRANSIENT` error
    is raised: the whole batch is the database's to retry."""
    outcome: Outcome[T, R] = Outcome()
    for item in items:
        announced = len(session.info.get(_AFTER_COMMIT, ()))
        try:
            with session.begin_nested():
                outcome.results.append(work(item))
        except TRANSIENT:
            raise
        except Exception as exc:
            # What the failed item asked to run after the commit (live updates, webhooks) did
            # not happen: its writes were rolled back.
            del session.info.get(_AFTER_COMMIT, [])[announced:]
            log.exception("job %s: item %s failed; the other items go on", job, key(item))
            outcome.failed.append(item)
            if failed is not None:
                try:
                    with session.begin_nested():
                        failed(item, exc)
                except TRANSIENT:
                    raise
                except Exception:
                    log.exception("job %s: could not record the failure of %s", job, key(item))
    return outcome


DEAD_LETTER = "job.dead_letter"


def dead_letter(
    session: Session,
    *,
    job: str,
    event_id: int,
    workspace_id: int,
    kind: str,
    exc: BaseException,
    now: datetime,
) -> None:
    """Record that `job` gave up on one event (it moves past it): an audit entry in the event's
    workspace, found by action `job.dead_letter` and the event id."""
    record_audit(
        session,
        None,
        DEAD_LETTER,
        ("event", event_id),
        f"{job}: event {event_id} ({kind}) skipped: {describe(exc, 300)}",
        now=now,
        after={"job": job, "event_id": event_id, "kind": kind, "error": describe(exc)},
        workspace_id=workspace_id,
    )


# --- followers of the event log -----------------------------------------------------------------

# On PostgreSQL an event's id is drawn before its transaction commits, so a later id can become
# visible first; reading only events this old never jumps over one. SQLite commits in id order.
SETTLE_POSTGRES = timedelta(seconds=5)


class FollowerCursor(Protocol):
    """A follower's place in the event log: a row keyed by the follower's name (its model has
    the columns `name` (primary key), `last_event_id` and `updated_at`)."""

    last_event_id: Any
    updated_at: Any


C = TypeVar("C", bound=FollowerCursor)


def lock_cursor(session: Session, model: type[C], *, name: str, now: datetime) -> C:
    """The cursor row `name`, created at 0 on first use and locked for this transaction: a
    second run waits here (PostgreSQL; on SQLite the write transaction already serialises runs)
    and then starts after the first."""
    row = session.get(model, name, with_for_update=True)
    if row is None:
        try:
            with session.begin_nested():
                session.add(cast(Any, model)(name=name, last_event_id=0, updated_at=now))
                session.flush()
        except IntegrityError:
            pass  # another run created it first
        row = session.get(model, name, with_for_update=True, populate_existing=True)
        assert row is not None
    return row


@dataclass(frozen=True, slots=True)
class Followed:
    """One batch of a follower: the events it handled (in id order; the failed ones among them
    were dead-lettered) and where its cursor stands now."""

    events: list[EventRecord]
    failed: list[EventRecord]
    last_event_id: int

    @property
    def read(self) -> int:
        return len(self.events)


def follow_events(
    session: Session,
    *,
    cursor: type[FollowerCursor],
    name: str,
    job: str,
    handle: Callable[[EventRecord], object],
    now: datetime,
    batch: int,
    settle: timedelta | None = timedelta(0),
    kinds: Sequence[str] | None = None,
    forget: Callable[[], None] | None = None,
) -> Followed:
    """Handle up to `batch` events after the cursor `name` (of the model `cursor`), all
    workspaces, each in a savepoint (`each_in_savepoint`). Stops at the first event younger
    than `settle`, left for a later run (`None`: no age limit, even for events stamped after
    `now`). An event that fails is dead-lettered and passed over, never retried at every tick
    ahead of everyone else's events (docs/architecture.md, Jobs); `forget` is called first, to
    drop what the batch cached from the rolled-back writes. A `TRANSIENT` error rolls the whole
    batch back (the caller's transaction), cursor included."""
    row = lock_cursor(session, cursor, name=name, now=now)
    events = list_events(
        session,
        after_id=row.last_event_id,
        kinds=list(kinds) if kinds is not None else None,
        limit=batch,
    )
    settled = (
        events
        if settle is None
        else list(takewhile(lambda ev: ev.occurred_at <= now - settle, events))
    )

    def failed(ev: EventRecord, exc: Exception) -> None:
        if forget is not None:
            forget()
        dead_letter(
            session,
            job=job,
            event_id=ev.id,
            workspace_id=ev.workspace_id,
            kind=ev.kind,
            exc=exc,
            now=now,
        )

    outcome = each_in_savepoint(
        session,
        settled,
        handle,
        job=job,
        key=lambda ev: f"event {ev.id} (workspace {ev.workspace_id})",
        failed=failed,
    )
    if settled:
        row.last_event_id = settled[-1].id
        row.updated_at = now
    return Followed(events=settled, failed=outcome.failed, last_event_id=int(row.last_event_id))


R_co = TypeVar("R_co", covariant=True)


class Step(Protocol[R_co]):
    """One batch of a follower, in the caller's transaction."""

    def __call__(self, session: Session, *, now: datetime, settle: timedelta) -> R_co: ...


def catch_up(
    db: Database,
    clock: Clock,
    step: Step[R],
    *,
    batch: int,
    read: Callable[[R], int] | None = None,
) -> list[R]:
    """A follower's job: `step` batch after batch, one transaction each, until a batch reads
    fewer than `batch` events (it has caught up); `read(result)` is how many it read (the
    result itself when not given). The settle time is `SETTLE_POSTGRES` on PostgreSQL and none
    on SQLite. Returns every batch's result."""
    settle = SETTLE_POSTGRES if db.dialect == "postgresql" else timedelta(0)
    runs: list[R] = []
    while True:
        with db.transaction() as session:
            run = step(session, now=clock.now(), settle=settle)
        runs.append(run)
        if (read(run) if read is not None else cast(int, run)) < batch:
            return runs
