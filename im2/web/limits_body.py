"""Request body limits and a body read timeout, by route class, as a pure ASGI middleware.

A request whose Content-Length is over its route's limit is answered 413 at once, before any
route, dependency or authentication runs and before one byte of the body is read. A chunked
body is counted as it arrives and refused once it passes the limit. A client that stops sending
in the middle of a body is answered 408 after `read_timeout` seconds of silence. Both answers
close the connection, so the server holds nothing for that client afterwards.

Starlette's own `RequestBodyLimitMiddleware` only acts once a route reads the body, answers in
plain text, and has no read timeout, hence this one.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from im2.i18n import _


@dataclass(frozen=True, slots=True)
class BodyRoute:
    """A route class: requests whose method and path match get `max_bytes`."""

    name: str
    pattern: re.Pattern[str]
    max_bytes: int
    methods: frozenset[str] = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """The special route classes (checked in order), then the defaults for the rest."""

    routes: Sequence[BodyRoute]
    api_bytes: int  # the JSON API (/api/...)
    form_bytes: int  # console and participant forms, everything else

    def for_request(self, method: str, path: str) -> tuple[str, int]:
        for route in self.routes:
            if method in route.methods and route.pattern.fullmatch(path):
                return route.name, route.max_bytes
        if path.startswith("/api/"):
            return "json", self.api_bytes
        return "form", self.form_bytes


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            status_code=413,
            detail=_("The request is larger than this address accepts ({size}).").format(
                size=human_size(max_bytes)
            ),
        )


class BodyReadTimeout(HTTPException):
    def __init__(self) -> None:
        super().__init__(
            status_code=408,
            detail=_("The upload stopped arriving; check the connection and send it again."),
        )


def human_size(n: int) -> str:
    if n >= 2**20:
        return f"{n / 2**20:g} MB"
    return f"{n / 1024:g} KB"


ErrorResponder = Callable[[Request, HTTPException], Awaitable[Response]]


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: BodyLimits,
        read_timeout: float,
        respond: ErrorResponder,
    ) -> None:
        self.app = app
        self.limits = limits
        self.read_timeout = read_timeout
        # The app's own error answer (the API's error body, or the error page), so a refusal
        # looks like every other refusal.
        self.respond = respond

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        _name, max_bytes = self.limits.for_request(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > max_bytes:
            await self._refuse(scope, receive, send, BodyTooLarge(max_bytes))
            return

        received = 0
        body_done = False
        refused = False
        response_started = False
        timeout = self.read_timeout

        async def limited_receive() -> Message:
            nonlocal received, body_done, refused
            if body_done:
                # Once the body is in, receive() only waits for the client to go away (SSE,
                # streaming): no timeout there.
                return await receive()
            try:
                async with asyncio.timeout(timeout):
                    message = await receive()
            except TimeoutError:
                refused = True
                raise BodyReadTimeout() from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    refused = True
                    raise BodyTooLarge(max_bytes)
                body_done = not message.get("more_body", False)
            else:
                body_done = True
            return message

        async def closing_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                if refused:
                    # The rest of the body was never read: the connection cannot carry another
                    # request, and closing it frees what the server held for this client.
                    MutableHeaders(scope=message)["Connection"] = "close"
            await send(message)

        try:
            await self.app(scope, limited_receive, closing_send)
        except (BodyTooLarge, BodyReadTimeout) as exc:
            # Raised where nothing turned it into a response (e.g. a body read in a
            # streaming route); answer here unless an answer has begun.
            if response_started:
                raise
            await self._refuse(scope, receive, send, exc)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, exc: HTTPException) -> None:
        response = await self.respond(Request(scope, receive), exc)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before we see it
    return None
