"""The HTTP shell of the app: settings, middleware, error pages, the health check and the API
docs. It holds no domain routes: `im2.app` assembles them, in traffic order."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from im2 import __version__
from im2.analytics.live import EventBell
from im2.clock import Clock, SystemClock
from im2.config import Environment, Settings, get_settings
from im2.db import Database
from im2.jobs import run_jobs_forever, send_texts_soon
from im2.live.redis_hub import make_hub
from im2.participation.limits import ActionLimiter
from im2.participation.senders import make_sender
from im2.web.compression import GZipWhenAccepted
from im2.web.context import RequestContextMiddleware
from im2.web.deps import console_user
from im2.web.errors import http_error_response, install_error_handlers
from im2.web.health import Lifecycle, serving
from im2.web.health import router as health_router
from im2.web.idempotency import IdempotencyMiddleware
from im2.web.limits_body import BodyLimitMiddleware, BodyLimits, BodyRoute
from im2.web.openapi import install_openapi
from im2.web.points_flash import PointsFlashMiddleware
from im2.web.security import SecurityHeadersMiddleware
from im2.workspaces.throttle import LoginThrottle

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


def _lifespan(
    settings: Settings, database: Database, clock: Clock, *, owns_db: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """What a server process runs beside its requests, from start to stop."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The hub's start, the drain on a stop signal, the group commit's finish (im2.web.health).
        async with serving(app, owns_db=owns_db):
            _freeze_startup_heap()
            # The one live path of events: after commit → the hub → the dashboards.
            stop_ringing = EventBell(app.state.hub, asyncio.get_running_loop()).listen(database)
            # A participant waits for their code: send it after the commit, not at a tick.
            stop_texting = send_texts_soon(database, clock) if settings.sms_send_at_once else None
            task = None
            if settings.run_scheduler:
                task = asyncio.create_task(
                    run_jobs_forever(database, clock, interval=settings.scheduler_interval_seconds)
                )
            try:
                yield
            finally:
                stop_ringing()
                if stop_texting is not None:
                    await asyncio.to_thread(stop_texting)  # waits for a send in progress
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    return lifespan


def _install_state(app: FastAPI, settings: Settings, database: Database, clock: Clock) -> None:
    """The process-wide parts routes reach through `app.state`."""
    app.state.settings = settings
    app.state.db = database
    app.state.clock = clock
    app.state.hub = make_hub(settings.redis_url)
    app.state.lifecycle = Lifecycle()
    app.state.code_sender = make_sender(settings)
    app.state.limiter = ActionLimiter(
        per_device=settings.participant_rate_per_device,
        per_ip=settings.participant_rate_per_ip,
        redis_url=settings.redis_url,
    )
    app.state.login_throttle = LoginThrottle(
        per_ip=settings.login_failures_per_ip,
        per_account_ip=settings.login_failures_per_account_ip,
        redis_url=settings.redis_url,
    )


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    """The middleware, innermost first (each `add_middleware` wraps the ones before it)."""
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(PointsFlashMiddleware)
    # Outside everything that reads a body, so an oversized or stalled one is refused before
    # any of it is read or held.
    app.add_middleware(
        BodyLimitMiddleware,
        limits=body_limits(settings),
        read_timeout=settings.body_read_timeout_seconds,
        respond=http_error_response,
    )
    # Phones on slow networks: compress pages and assets (SSE streams are left alone). Level 6
    # (zlib's default) compresses pages nearly as well as 9 for a fraction of the CPU.
    app.add_middleware(GZipWhenAccepted, minimum_size=1024, compresslevel=6)
    app.add_middleware(
        RequestContextMiddleware,
        default_locale=settings.default_locale,
        secret_key=settings.secret_key.get_secret_value(),
    )
    production = settings.env is Environment.PRODUCTION
    app.add_middleware(
        SecurityHeadersMiddleware,
        secure_cookies=settings.cookies_secure,
        hsts=production,
        assume_https=production and settings.base_url.startswith("https://"),
    )


def build_app(
    settings: Settings | None = None,
    *,
    db: Database | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """The app without domain routes; `im2.app.create_app` adds them (and the static files)."""
    settings = settings or get_settings()
    database = db or Database(settings.database_url)
    the_clock = clock or SystemClock()
    app = FastAPI(
        title="IM2 API",
        version=__version__,
        description=(
            "Interactive media 2.0 marketing platform. Authenticate with "
            "`Authorization: Bearer <token>` (create tokens in the console or with "
            "`im2 token create`). Errors have one shape: "
            '`{"error": {"code", "message", "field"}}`. POST requests honour `Idempotency-Key`.'
        ),
        # Served below, behind the console login unless IM2_PUBLIC_API_DOCS says otherwise.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan(settings, database, the_clock, owns_db=db is None),
    )
    _install_state(app, settings, database, the_clock)
    _install_middleware(app, settings)
    install_error_handlers(app)
    install_openapi(app)
    _install_api_docs(app, public=settings.api_docs_public)

    # Routes are matched in order (FastAPI walks included routers per request, ~1.5 us a
    # route): the health checks first; im2.app adds the domains' routes after them.
    app.include_router(health_router)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console", status_code=303)

    return app


# Multipart framing and the form's other fields around an uploaded file.
FORM_OVERHEAD = 256 * 1024
_WS = r"/console/w/[^/]+"
_ID = r"[^/]+"


def body_limits(settings: Settings) -> BodyLimits:
    """The body limit of every route class. Upload routes allow their own file limit (the one
    their page states) plus the form around it, so a file just over it still gets the page's
    own explanation; anything larger is refused before it is read."""
    from im2.activities.formats.ugc.media import MAX_UPLOAD_BYTES as UGC_IMAGE_BYTES
    from im2.incentives.schemas import CODES_FILE_MAX_BYTES as CODES_FILE_BYTES
    from im2.influence.service import MAX_IMPORT_BYTES as GRAPH_FILE_BYTES
    from im2.listening.service import MAX_FILE_BYTES as MENTIONS_FILE_BYTES
    from im2.people.io import MAX_IMPORT_BYTES as PEOPLE_FILE_BYTES
    from im2.workspaces.branding import MAX_IMAGE_BYTES as BRAND_IMAGE_BYTES

    def route(name: str, pattern: str, file_bytes: int) -> BodyRoute:
        return BodyRoute(name, re.compile(pattern), file_bytes + FORM_OVERHEAD)

    return BodyLimits(
        routes=(
            route(
                "mentions import",
                rf"{_WS}/listening/import|/api/v1/mentions/imports",
                MENTIONS_FILE_BYTES,
            ),
            route(
                "people import",
                rf"{_WS}/people/import|/api/v1/people/imports",
                PEOPLE_FILE_BYTES,
            ),
            route(
                "graph import",
                rf"{_WS}/influence/graphs|/api/v1/influence/graphs",
                GRAPH_FILE_BYTES,
            ),
            route(
                "UGC media",
                rf"/c/{_ID}/ugc/{_ID}/submit|/api/v1/public/campaigns/{_ID}/ugcs/{_ID}/entries",
                UGC_IMAGE_BYTES,
            ),
            route("brand images", rf"{_WS}(/campaigns/{_ID})?/brand", 2 * BRAND_IMAGE_BYTES),
            route(
                "coupon codes file",
                rf"{_WS}/campaigns/{_ID}/incentives/pools/{_ID}/import",
                CODES_FILE_BYTES,
            ),
            BodyRoute(
                "bulk JSON",
                re.compile(rf"/api/v1/mentions|/api/v1/coupon-pools/{_ID}/codes/import"),
                settings.max_bulk_json_body_bytes,
            ),
        ),
        api_bytes=settings.max_json_body_bytes,
        form_bytes=settings.max_form_body_bytes,
    )


def _install_api_docs(app: FastAPI, *, public: bool) -> None:
    """The OpenAPI schema and Swagger UI; signed-in console users only unless `public`."""

    def check(request: Request) -> None:
        if not public:
            console_user(request, request.app.state.db, request.app.state.clock.now())

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request) -> JSONResponse:
        check(request)
        return JSONResponse(app.openapi())

    @app.get("/api/docs", include_in_schema=False)
    def docs(request: Request) -> Response:
        check(request)
        page = get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} docs")
        nonce = request.state.csp_nonce
        # Swagger UI comes from its CDN and starts with an inline script: this page's policy
        # allows that CDN, and the inline script carries the nonce.
        html = bytes(page.body).decode().replace("<script>", f'<script nonce="{nonce}">')
        cdn = "https://cdn.jsdelivr.net"
        policy = (
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}' {cdn}; "
            f"style-src 'self' 'unsafe-inline' {cdn}; img-src 'self' data: https:; "
            "frame-ancestors 'none'"
        )
        return HTMLResponse(html, headers={"Content-Security-Policy": policy})
