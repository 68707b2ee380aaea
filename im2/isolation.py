"""One item's failure stays that item's: the loop every periodic job runs over its items.

A job over many feeds, draws, wallets or workspaces must never stop at the first one that
fails: a feed whose URL no parser anticipated stopped every later feed, in every workspace,
tick after tick. `each` runs `work` on every item, logs a failure with the job's name and the
item's id, hands it to `failed` (to record it on the item, where there is a place for it), and
goes on. The job runner (`im2.jobs`) still catches what escapes a whole job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

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
