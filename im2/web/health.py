"""Health for a load balancer, and a server's orderly stop (docs/deploy.md).

- `/healthz` (liveness): the process answers. It checks nothing else, so that a database
  outage never makes an orchestrator restart every server at once.
- `/readyz` (readiness): 200 while this process should get traffic: the database answers and,
  with IM2_REDIS_URL, Redis does and the live hub is subscribed. 503 when one does not, and
  from the moment the server is told to stop.

Stopping (SIGTERM or SIGINT; `serving` hooks them in the server process):
1. `/readyz` answers 503 for `drain_seconds`, while everything else is still served, so that
   the load balancer moves new traffic away first;
2. live streams end with a hint to reconnect (after 1-5 s, to another process);
3. the server stops taking connections and lets the requests in flight finish (uvicorn,
   within `shutdown_timeout_seconds`);
4. at the app's shutdown: the scheduler stops, the group commit finishes what it holds (every
   answered write is committed already), the hub delivers what is queued, and the process
   exits. A second signal skips the wait of step 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from im2 import __version__
from im2.config import Settings
from im2.db import Database
from im2.live.hub import Hub

log = logging.getLogger(__name__)

router = APIRouter()
CHECK_TIMEOUT_SECONDS = 2.0
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Lifecycle:
    """One app's serving state (on `app.state.lifecycle`)."""

    def __init__(self) -> None:
        self.draining = False
        self.drain_task: asyncio.Task[None] | None = None


@router.get("/healthz", include_in_schema=False)
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok", "version": __version__})


def _database_answers(db: Database) -> bool:
    with db.session() as session:
        return session.execute(text("SELECT 1")).scalar() == 1


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    lifecycle: Lifecycle = state.lifecycle
    if lifecycle.draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    checks: dict[str, bool] = {}
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            checks["database"] = await asyncio.to_thread(_database_answers, state.db)
    except Exception as exc:  # any failure means "not ready", with the reason in the log
        log.warning("readiness: the database does not answer (%s)", exc)
        checks["database"] = False
    settings: Settings = state.settings
    if settings.redis_url:
        hub: Hub = state.hub
        checks["redis"] = await hub.ping()
    ready = all(checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


@asynccontextmanager
async def serving(app: FastAPI, *, owns_db: bool) -> AsyncIterator[None]:
    """The app's lifespan around its serving: the hub starts, stop signals drain first, and
    on the way out the group commit and the hub finish their work. `owns_db`: the app made
    its database (not a test's), so it disposes of it, which finishes the group commit."""
    state = app.state
    hub: Hub = state.hub
    lifecycle: Lifecycle = state.lifecycle
    settings: Settings = state.settings
    loop = asyncio.get_running_loop()
    await hub.start(loop)
    restore = _hook_stop_signals(loop, lifecycle, hub, drain_seconds=settings.drain_wait)
    try:
        yield
    finally:
        restore()
        lifecycle.draining = True
        hub.close_streams()
        if owns_db:
            # Joins the writer thread once it has committed everything queued before this.
            await asyncio.to_thread(state.db.dispose)
        await hub.close()
        await state.limiter.aclose()


Handler = Callable[[int, FrameType | None], Any] | int | None


def _hook_stop_signals(
    loop: asyncio.AbstractEventLoop, lifecycle: Lifecycle, hub: Hub, *, drain_seconds: float
) -> Callable[[], None]:
    """Put a drain in front of the server's own stop handlers (uvicorn's, installed before
    the app starts); returns what undoes it. Only in the main thread of a server process:
    elsewhere (tests, a server in a thread) signals are not ours to take."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous: dict[int, Handler] = {sig: signal.getsignal(sig) for sig in SIGNALS}
    if not all(callable(handler) for handler in previous.values()):
        return lambda: None

    def stop(sig: int, frame: FrameType | None) -> None:
        handler = previous[sig]
        assert callable(handler)
        handler(sig, frame)

    async def drain(sig: int) -> None:
        log.info("draining: /readyz answers 503 for %.0f s, then live streams close", drain_seconds)
        await asyncio.sleep(drain_seconds)
        hub.close_streams()
        stop(sig, None)

    def on_signal(sig: int, frame: FrameType | None) -> None:
        if lifecycle.draining:  # a second signal: stop now
            stop(sig, frame)
            return
        lifecycle.draining = True

        def start() -> None:
            lifecycle.drain_task = loop.create_task(drain(sig))

        loop.call_soon_threadsafe(start)  # wakes the loop, which may be waiting in select()

    for sig in SIGNALS:
        signal.signal(sig, on_signal)

    def restore() -> None:
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)

    return restore
