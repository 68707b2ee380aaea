"""Background jobs of the listening domain: feed polling, spike detection and alert delivery,
escalation of overdue inbox items, scoring mentions stored while the model was unavailable.

Each job is idempotent: running it twice in a row does nothing the second time.
"""

from __future__ import annotations

import logging

from im2 import isolation
from im2.clock import Clock
from im2.db import Database
from im2.listening import alerting, feeds, inbox
from im2.listening.ingest import score_pending

log = logging.getLogger("im2.listening")


def poll_feed(db: Database, clock: Clock, feed: feeds.DueFeed) -> tuple[int, str | None]:
    """Fetch one feed (outside any transaction), then store its new entries; returns how many
    mentions were new and the fetch error, if any."""
    fetched = feeds.fetch(feed)
    with db.transaction() as session:
        stored = feeds.do_store_feed_result(session, feed=feed, fetched=fetched, now=clock.now())
    if fetched.error:
        log.warning("feed %s: %s", feed.url, fetched.error)
    return stored, fetched.error


def poll_feeds_job(db: Database, clock: Clock) -> int:
    """Fetch every feed that is due, then store its new entries. A feed that fails in a way
    nobody foresaw records the failure on itself; the feeds after it are polled all the same."""
    with db.session() as session:
        due = feeds.due_feeds(session, now=clock.now())

    def record(feed: feeds.DueFeed, exc: Exception) -> None:
        with db.transaction() as session:
            feeds.do_record_poll_failure(
                session, feed_id=feed.id, error=isolation.describe(exc), now=clock.now()
            )

    polled = isolation.each(
        due,
        lambda feed: poll_feed(db, clock, feed)[0],
        job="listening_poll_feeds",
        key=lambda feed: f"feed {feed.id} (workspace {feed.workspace_id})",
        failed=record,
    )
    return sum(polled.results)


def detect_spikes_job(db: Database, clock: Clock) -> list[int]:
    """Raise alerts for spikes in the last hour, then deliver them (webhook, e-mail). One
    workspace or one delivery failing never keeps the others from theirs."""
    now = clock.now()
    with db.session() as session:
        workspace_ids = alerting.workspaces_with_recent_mentions(session, now=now)

    def detect(workspace_id: int) -> list[int]:
        with db.transaction() as session:
            return alerting.do_detect_spikes(session, workspace_id=workspace_id, now=now)

    detected = isolation.each(
        workspace_ids, detect, job="listening_detect_spikes", key=lambda w: f"workspace {w}"
    )
    raised = [alert_id for found in detected.results for alert_id in found]

    def deliver(alert_id: int) -> None:
        with db.session() as session:
            found = alerting.alert_for_delivery(session, alert_id=alert_id)
        if found is None:
            return
        outcome = alerting.deliver(*found)
        with db.transaction() as session:
            alerting.do_record_delivery(session, alert_id=alert_id, outcome=outcome)

    # deliver() records each channel's outcome itself and never raises; what fails around it
    # (the database) is logged, and the alert stays on the console.
    isolation.each(raised, deliver, job="listening_deliver_alerts", key=lambda a: f"alert {a}")
    return raised


ESCALATION_PAGE = 1000


def escalate_inbox_job(db: Database, clock: Clock) -> list[int]:
    """Move inbox items past their step's time limit up the escalation ladder; the items
    moved. Each item in a transaction of its own: one that fails (a workspace's ladder saved
    in a shape no longer read, …) is logged with its id, stays overdue and is tried again next
    tick, and the items after it, in every workspace, are escalated all the same."""
    now = clock.now()

    def escalate(item_id: int) -> int | None:
        with db.transaction() as session:
            moved = inbox.do_escalate_overdue_item(session, item_id=item_id, now=now)
        return item_id if moved else None

    escalated: list[int] = []
    after = 0
    while True:  # page by id, so items that keep failing never hide the ones behind them
        with db.session() as session:
            due = inbox.overdue_item_ids(session, now=now, after_id=after, limit=ESCALATION_PAGE)
        done = isolation.each(
            due, escalate, job="listening_escalate_inbox", key=lambda i: f"inbox item {i}"
        )
        escalated += [item_id for item_id in done.results if item_id is not None]
        if len(due) < ESCALATION_PAGE:
            return escalated
        after = due[-1]


def score_pending_mentions_job(db: Database, clock: Clock) -> int:
    """Score mentions stored without sentiment (the model was unavailable at the time)."""
    with db.transaction() as session:
        return score_pending(session)
