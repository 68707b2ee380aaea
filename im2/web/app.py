"""The app factory: one FastAPI app serving the API, the console and static files."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import JSONResponse, RedirectResponse

from im2 import __version__
from im2.activities.formats.poll.api import votes_router
from im2.clock import Clock, SystemClock
from im2.config import Settings, get_settings
from im2.db import Database
from im2.domains import import_domain_modules
from im2.jobs import run_jobs_forever
from im2.live.hub import Hub
from im2.participation.limits import ActionLimiter
from im2.participation.senders import make_sender
from im2.web.compression import GZipWhenAccepted
from im2.web.context import RequestContextMiddleware
from im2.web.errors import install_error_handlers
from im2.web.idempotency import IdempotencyMiddleware

STATIC_DIR = Path(__file__).resolve().parent / "static"
_heap_frozen = False


def _freeze_startup_heap() -> None:
    """Move everything alive after start-up (modules, routes, models, templates) out of the
    cycle collector's sight, once per process: a full collection then walks only what requests
    allocate, instead of pausing every request in flight for the whole heap (p99 tails)."""
    global _heap_frozen
    if not _heap_frozen:
        _heap_frozen = True
        gc.collect()
        gc.freeze()


def create_app(
    settings: Settings | None = None,
    *,
    db: Database | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    database = db or Database(settings.database_url)
    the_clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.hub.attach(asyncio.get_running_loop())
        _freeze_startup_heap()
        task = None
        if settings.run_scheduler:
            task = asyncio.create_task(
                run_jobs_forever(database, the_clock, interval=settings.scheduler_interval_seconds)
            )
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="IM2 API",
        version=__version__,
        description=(
            "Interactive media 2.0 marketing platform. Authenticate with "
            "`Authorization: Bearer <token>` (create tokens in the console or with "
            "`im2 token create`). Errors have one shape: "
            '`{"error": {"code", "message", "field"}}`. POST requests honour `Idempotency-Key`.'
        ),
        openapi_url="/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.clock = the_clock
    app.state.hub = Hub()
    app.state.code_sender = make_sender(settings)
    app.state.limiter = ActionLimiter(
        per_device=settings.participant_rate_per_device, per_ip=settings.participant_rate_per_ip
    )

    app.add_middleware(IdempotencyMiddleware)
    # Phones on slow networks: compress pages and assets (SSE streams are left alone). Level 6
    # (zlib's default) compresses pages nearly as well as 9 for a fraction of the CPU.
    app.add_middleware(GZipWhenAccepted, minimum_size=1024, compresslevel=6)
    app.add_middleware(
        RequestContextMiddleware,
        secure_cookies=settings.secure_cookies,
        default_locale=settings.default_locale,
        secret_key=settings.secret_key.get_secret_value(),
    )
    install_error_handlers(app)

    # Routes are matched in order, and each one tried costs (FastAPI walks included routers
    # per request, ~1.5 us a route): the health check first, then participants' votes, the
    # API, the participant pages, and the console last.
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__})

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console", status_code=303)

    app.include_router(votes_router)
    for name in ("api", "public", "pages"):
        for module in import_domain_modules(name):
            app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
