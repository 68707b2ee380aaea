"""The SMS sender: every due delivery is sent through its workspace's provider, its answer is
recorded, and a failed attempt worth repeating is retried with growing delays.

It runs as a job, never inside a request: a slow or unreachable provider only ever costs this
job's own threads, and each run stops taking new work after its time budget. A participant
waits for their code, so a server also runs the sender as soon as a delivery it queued has
committed (`SendSoon`), in a thread of its own; the periodic job sends what that misses.
Claims are leased and conditional, so both at once never send one message twice.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from functools import partial

import httpx
from sqlalchemy.orm import Session

from im2 import isolation
from im2.clock import Clock
from im2.config import get_settings
from im2.db import Database
from im2.messaging import service
from im2.messaging.providers import Account, Message, Outcome, SendResult, aliyun, tencent
from im2.messaging.schemas import SmsProvider

log = logging.getLogger("im2.messaging")

TIMEOUT_SECONDS = 5.0
CONCURRENCY = 8
BUDGET_SECONDS = 8.0  # the runner runs jobs one after another: leave them their turn
USER_AGENT = "IM2-Messaging/1.0"

Sender = Callable[..., SendResult]
SENDERS: dict[SmsProvider, Sender] = {
    SmsProvider.ALIYUN: aliyun.send,
    SmsProvider.TENCENT: tencent.send,
}


def _base_urls() -> dict[SmsProvider, str | None]:
    settings = get_settings()
    return {
        SmsProvider.ALIYUN: settings.sms_aliyun_url,
        SmsProvider.TENCENT: settings.sms_tencent_url,
    }


def _attempt(
    client: httpx.Client,
    claimed: service.Claimed,
    *,
    now: datetime,
    base_urls: dict[SmsProvider, str | None],
) -> SendResult:
    """One attempt, whatever happens: a timeout or a refused connection is worth retrying;
    an error nobody foresaw is that delivery's failed attempt, never the end of the batch."""
    send = SENDERS[claimed.provider]
    account: Account = claimed.account
    message: Message = claimed.message
    try:
        return send(client, account, message, now=now, base_url=base_urls[claimed.provider])
    except httpx.TimeoutException:
        timeout = client.timeout.read or TIMEOUT_SECONDS
        return SendResult(Outcome.RETRY, error=f"timed out after {timeout:g} s")
    except httpx.HTTPError as exc:
        return SendResult(Outcome.RETRY, error=f"{type(exc).__name__}: {exc}"[:300])
    except Exception as exc:
        log.error("SMS delivery %s: unexpected %s", claimed.id, type(exc).__name__)
        return SendResult(Outcome.RETRY, error=f"unexpected {type(exc).__name__}")


def send_messages_job(
    db: Database,
    clock: Clock,
    *,
    budget_seconds: float = BUDGET_SECONDS,
    concurrency: int = CONCURRENCY,
    timeout: float = TIMEOUT_SECONDS,
    max_attempts: int = service.MAX_ATTEMPTS,
    rng: random.Random | None = None,
) -> int:
    """Send every due delivery (at most `concurrency` at a time) and record each answer.
    Returns how many attempts were made."""
    deadline = time.monotonic() + budget_seconds

    def claim() -> list[service.Claimed]:
        with db.transaction() as session:
            return service.claim_due(session, now=clock.now(), limit=concurrency)

    batch = claim()
    if not batch:
        return 0  # the usual tick: one query, no client, no threads
    base_urls = _base_urls()
    chance = rng or random.Random()  # noqa: S311 (retry jitter, not a secret)
    attempts = 0

    def record(session: Session, pair: tuple[service.Claimed, SendResult]) -> None:
        claimed, result = pair
        service.record_result(
            session,
            claimed=claimed,
            result=result,
            now=clock.now(),
            max_attempts=max_attempts,
            rng=chance,
        )

    with (
        httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        ) as client,
        ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sms") as pool,
    ):
        while batch:
            now = clock.now()
            results = list(
                pool.map(
                    lambda c, at=now: (c, _attempt(client, c, now=at, base_urls=base_urls)), batch
                )
            )
            # One commit for the batch's answers and the next batch's claim (a sync each on
            # SQLite); each answer in a savepoint of its own: one that cannot be recorded keeps
            # its lease and is claimed again once it runs out, the others are recorded.
            with db.transaction() as session:
                isolation.each_in_savepoint(
                    session,
                    results,
                    partial(record, session),
                    job="messaging_send",
                    key=lambda p: f"delivery {p[0].id}",
                )
                more = time.monotonic() < deadline
                batch = (
                    service.claim_due(session, now=clock.now(), limit=concurrency) if more else []
                )
            attempts += len(results)
            for claimed, result in results:
                if result.outcome is not Outcome.SENT:
                    # The delivery id and the provider's words: never the number or the code.
                    log.warning(
                        "SMS delivery %s through %s: %s %s (%s)",
                        claimed.id,
                        claimed.provider.value,
                        result.outcome.value,
                        result.provider_status or "",
                        result.error or "",
                    )
    return attempts


class SendSoon:
    """Runs the sender right after a delivery is queued (`service.MESSAGES_QUEUED`, heard from
    any thread): one run at a time, in one thread of its own, and one more run when deliveries
    were queued during a run, so a burst of codes costs a run or two, not one each."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sms-soon")
        self._lock = threading.Lock()
        self._running: Future[None] | None = None
        self._again = False
        self._closed = False

    def listen(self) -> Callable[[], None]:
        """Send soon after each queued delivery of `db`; returns what stops it (and waits for
        a run in progress)."""
        remove = self.db.signals.listen(service.MESSAGES_QUEUED, self.ring)

        def stop() -> None:
            remove()
            with self._lock:
                self._closed = True
            self._pool.shutdown(wait=True)

        return stop

    def ring(self, _delivery_id: int) -> None:
        with self._lock:
            if self._closed:
                return
            if self._running is not None:
                self._again = True
                return
            self._running = self._pool.submit(self._run)

    def _run(self) -> None:
        while True:
            try:
                send_messages_job(self.db, self.clock)
            except Exception:
                log.exception("sending queued texts at once failed; the job sends them")
            with self._lock:
                if not self._again or self._closed:
                    self._running = None
                    return
                self._again = False
