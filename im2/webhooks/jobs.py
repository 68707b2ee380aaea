"""The two webhook jobs: the outbox (events → delivery rows) and the sender (HTTP POSTs).

The sender never runs inside a request: a slow or failing receiver only ever costs this job's
own threads, and each run stops taking new work after its time budget.
"""

from __future__ import annotations

import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx

from im2 import isolation, outbound
from im2.clock import Clock
from im2.config import get_settings
from im2.db import Database
from im2.webhooks import service
from im2.webhooks.schemas import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER

log = logging.getLogger("im2.webhooks")

# PostgreSQL may commit a lower event id after a higher one; SQLite commits in id order.
SETTLE_POSTGRES = timedelta(seconds=5)
TIMEOUT_SECONDS = 5.0
CONCURRENCY = 4
PER_ENDPOINT = 2
BUDGET_SECONDS = 8.0  # the runner runs jobs one after another: leave them their turn
USER_AGENT = "IM2-Webhooks/1.0"


def enqueue_webhooks_job(db: Database, clock: Clock) -> int:
    """Create the deliveries for every event the outbox has not read yet."""
    settle = SETTLE_POSTGRES if db.dialect == "postgresql" else timedelta(0)
    total = 0
    while True:
        with db.transaction() as session:
            read = service.enqueue_deliveries(session, now=clock.now(), settle=settle)
        total += read
        if read == 0:
            return total


def _destination(url: str, *, private_networks: bool) -> tuple[str | None, str | None]:
    """The URL to call (in the canonical spelling that was checked), or why not. Read and
    resolved before every attempt: a name can point elsewhere than when it was saved, and rows
    saved before a check existed are held to it too."""
    verdict = outbound.judge(url, private_networks=private_networks)
    if verdict.destination is not None:
        return verdict.destination.url, None
    if verdict.refused:
        return None, (
            f"refused: {url[:200]} leads to {verdict.refused}, not a public address "
            "(set IM2_WEBHOOK_ALLOW_PRIVATE_NETWORKS=true for receivers inside your network)"
        )
    return None, f"unusable URL: {verdict.unusable}"[:500]


def _post(
    client: httpx.Client, claimed: service.Claimed, clock: Clock, *, private_networks: bool
) -> service.Outcome:
    url, refusal = _destination(claimed.url, private_networks=private_networks)
    if url is None:
        return service.Outcome(None, None, refusal, 0)
    body = service.body_bytes(claimed.payload)
    timestamp = int(clock.now().timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: claimed.kind,
        DELIVERY_HEADER: str(claimed.id),
        SIGNATURE_HEADER: service.signature(claimed.secret, timestamp, body),
    }
    started = time.monotonic()
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        error = f"timed out after {client.timeout.read or TIMEOUT_SECONDS:g} s"
        return service.Outcome(None, None, error, int((time.monotonic() - started) * 1000))
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
        return service.Outcome(None, None, error, int((time.monotonic() - started) * 1000))
    text = response.text[: service.EXCERPT]
    return service.Outcome(
        response.status_code, text, None, int((time.monotonic() - started) * 1000)
    )


def _attempt(
    client: httpx.Client, claimed: service.Claimed, clock: Clock, *, private_networks: bool
) -> service.Outcome:
    """One attempt, whatever happens: an error nobody foresaw is that delivery's failed
    attempt (recorded on it and retried), never the end of the batch."""
    try:
        return _post(client, claimed, clock, private_networks=private_networks)
    except Exception as exc:
        log.exception("webhook delivery %s: unexpected error", claimed.id)
        return service.Outcome(None, None, isolation.describe(exc), 0)


def send_webhooks_job(
    db: Database,
    clock: Clock,
    *,
    budget_seconds: float = BUDGET_SECONDS,
    concurrency: int = CONCURRENCY,
    timeout: float = TIMEOUT_SECONDS,
    max_attempts: int = service.MAX_ATTEMPTS,
    rng: random.Random | None = None,
    private_networks: bool | None = None,
) -> int:
    """POST every due delivery (at most `concurrency` at a time), record each outcome, and
    schedule retries. Returns how many attempts were made. Receivers on non-public addresses
    are refused unless `private_networks` (default: the settings' choice)."""
    if private_networks is None:
        private_networks = get_settings().webhooks_reach_private_networks
    deadline = time.monotonic() + budget_seconds
    lease = timedelta(seconds=timeout + 60)
    attempts = 0
    chance = rng or random.Random()  # noqa: S311 (retry jitter, not a secret)
    with (
        httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False) as client,
        ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="webhook") as pool,
    ):
        while time.monotonic() < deadline:
            with db.transaction() as session:
                batch = service.claim_due(
                    session,
                    now=clock.now(),
                    limit=concurrency,
                    per_endpoint=PER_ENDPOINT,
                    lease=lease,
                )
            if not batch:
                break
            outcomes = list(
                pool.map(
                    lambda c: (c, _attempt(client, c, clock, private_networks=private_networks)),
                    batch,
                )
            )

            def record(pair: tuple[service.Claimed, service.Outcome]) -> None:
                claimed, outcome = pair
                with db.transaction() as session:
                    service.record_outcome(
                        session,
                        claimed=claimed,
                        outcome=outcome,
                        now=clock.now(),
                        max_attempts=max_attempts,
                        rng=chance,
                    )
                if not outcome.ok:
                    log.info(
                        "webhook delivery %s to %s failed: %s",
                        claimed.id,
                        claimed.url,
                        outcome.error or outcome.status_code,
                    )

            # A delivery whose outcome cannot be recorded keeps its lease and is claimed again
            # once it runs out; the others' outcomes are recorded all the same.
            isolation.each(
                outcomes, record, job="webhooks_send", key=lambda p: f"delivery {p[0].id}"
            )
            attempts += len(outcomes)
    return attempts
