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
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from im2.db import _AFTER_COMMIT
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
        actor=None,
        workspace_id=workspace_id,
        action=DEAD_LETTER,
        target_type="event",
        target_id=event_id,
        summary=f"{job}: event {event_id} ({kind}) skipped: {describe(exc, 300)}",
        before=None,
        after={"job": job, "event_id": event_id, "kind": kind, "error": describe(exc)},
        now=now,
    )
