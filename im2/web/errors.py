"""One error body for the API, an error page for the console; never a traceback."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import compile_path

from im2.errors import IM2Error
from im2.i18n import _
from im2.web.deps import LoginRequired
from im2.web.forms import error_message
from im2.web.templating import render

log = logging.getLogger("im2.web")


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, **extra}}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/live/")) or request.url.path in (
        "/openapi.json",
        "/healthz",
    )


def field_of(loc: tuple[int | str, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


PUBLIC_PREFIXES = ("/c/", "/s/", "/j/")


def _campaign_back(request: Request) -> str | None:
    """Where a participant's error page leads back to: the campaign of a page under
    /c/<slug>/, when that campaign is open to the public (never a link to another error)."""
    parts = request.url.path.split("/")
    if len(parts) < 4 or parts[1] != "c" or not parts[2]:
        return None
    from im2.campaigns import service as campaigns  # the console never needs it

    try:
        with request.app.state.db.session() as session:
            found = campaigns.get_public_campaign(session, slug=parts[2])
    except SQLAlchemyError:  # the page explains a failure already: no second one over it
        return None
    if found is None or found.campaign.status in ("draft", "archived"):
        return None
    return f"/c/{parts[2]}"


async def _error_page(request: Request, status: int, message: str) -> Response:
    context: dict[str, Any] = {"status": status, "message": message}
    if request.url.path.startswith(PUBLIC_PREFIXES):
        context["back_url"] = await run_in_threadpool(_campaign_back, request)
    return render(request, "error.html", context, status_code=status)


HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "too_large",
}


async def http_error_response(request: Request, exc: HTTPException) -> Response:
    """Starlette's HTTP errors (and the body limits') in the app's own shape."""
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        # FastAPI answers invalid JSON 422 but a JSON body that is not UTF-8 (which JSON must
        # be, RFC 8259) a bare 400 in English: both are the same mistake, with one answer.
        return await _malformed_json(request)
    if exc.status_code == 404:
        message = _("Not found.")
    elif exc.status_code == 405:
        message = _("This method is not allowed here.")
    else:
        message = str(exc.detail)
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
    if _wants_json(request):
        return JSONResponse(
            error_body(HTTP_CODES.get(exc.status_code, "http_error"), message),
            status_code=exc.status_code,
            headers=headers or None,
        )
    response = await _error_page(request, exc.status_code, message)
    response.headers.update(headers)
    return response


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route serves at `path`. Starlette's 405 lists only the methods of the
    first route whose path matched (GET /api/v1/campaigns, not its POST), while a 405 must
    list all the resource supports (RFC 9110, 15.5.6)."""
    table: list[tuple[re.Pattern[str], frozenset[str]]] | None = getattr(
        app.state, "route_methods", None
    )
    if table is None:
        table = []
        for context in iter_route_contexts(app.routes):
            methods = getattr(context.original_route, "methods", None)
            if context.path and methods:
                table.append((compile_path(context.path)[0], frozenset(methods)))
        app.state.route_methods = table
    found = {method for pattern, methods in table if pattern.match(path) for method in methods}
    return sorted(found)


async def _malformed_json(request: Request) -> Response:
    message = _("The request body is not valid JSON.")
    if _wants_json(request):
        return JSONResponse(error_body("malformed_json", message), status_code=422)
    return await _error_page(request, 422, message)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(IM2Error)
    async def _im2_error(request: Request, exc: IM2Error) -> Response:
        if _wants_json(request):
            return JSONResponse(
                error_body(exc.code, exc.message, exc.field), status_code=exc.status_code
            )
        return await _error_page(request, exc.status_code, exc.message)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/console/login?next={exc.next_url}", status_code=303)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid", "type": "invalid"}
        if first.get("type") == "json_invalid":
            message = _("The request body is not valid JSON.")
            code = "malformed_json"
        else:
            message = str(first.get("msg", "invalid"))
            code = "invalid"
        details = [
            {"field": field_of(tuple(e.get("loc", ()))), "message": str(e.get("msg"))}
            for e in errors
        ]
        if _wants_json(request):
            return JSONResponse(
                error_body(code, message, field_of(tuple(first.get("loc", ()))), details=details),
                status_code=422,
            )
        # A page speaks the reader's language: the catalog's message, not pydantic's English.
        return await _error_page(request, 422, error_message(first))

    app.exception_handler(HTTPException)(http_error_response)

    @app.exception_handler(OperationalError)
    async def _busy(request: Request, exc: OperationalError) -> Response:
        # SQLite's single writer could not get the lock within the busy timeout: nothing was
        # written, and a retry a moment later succeeds. Anything else is a real failure.
        if "database is locked" not in str(exc.orig):
            return await _unexpected(request, exc)
        log.warning("database busy on %s %s", request.method, request.url.path)
        message = _("The server is very busy; nothing was saved. Please try again in a moment.")
        if _wants_json(request):
            return JSONResponse(
                error_body("busy", message), status_code=503, headers={"Retry-After": "1"}
            )
        return await _error_page(request, 503, message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        message = _("Something went wrong on our side; nothing was saved. Please try again.")
        if _wants_json(request):
            return JSONResponse(error_body("internal", message), status_code=500)
        return await _error_page(request, 500, message)
