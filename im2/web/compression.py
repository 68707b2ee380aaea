"""Compressed responses for clients that ask for them, and nothing in the way of the rest.

Starlette's `GZipMiddleware` wraps every response, including those to clients that never sent
`Accept-Encoding: gzip` (it only inspects them); here those requests skip it. A response that
is not compressed needs no `Vary: Accept-Encoding`: a cache may hand the plain body to anyone.
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send


class GZipWhenAccepted:
    def __init__(self, app: ASGIApp, *, minimum_size: int, compresslevel: int) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size, compresslevel=compresslevel)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"accept-encoding" and b"gzip" in value:
                    await self.gzip(scope, receive, send)
                    return
        await self.app(scope, receive, send)
