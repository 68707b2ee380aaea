"""Security headers on every response, as one pure ASGI middleware (docs/security.md).

- Content-Security-Policy on HTML: scripts only from this site or carrying the request's nonce
  (`request.state.csp_nonce`, written as `nonce="{{ request.state.csp_nonce }}"` in templates);
  no framing; forms post only here.
- Framing: `X-Frame-Options: DENY` and `frame-ancestors 'none'` on every answer, except where a
  route named the sites that may frame it (`allow_framing`, the embed pages of docs/embed.md):
  that answer gets `frame-ancestors <those origins>` and no X-Frame-Options.
- Strict-Transport-Security in production on HTTPS.
- `Cache-Control: no-store` on the API and console answers (private data must not stay in a
  shared or browser cache), unless the route chose its own.
- `Secure` on every cookie when the request came over HTTPS or the settings say so.
- nosniff, a referrer policy and X-Frame-Options for older browsers.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS = "max-age=31536000; includeSubDomains"
NO_STORE_PREFIXES = ("/api/", "/console", "/openapi.json")
NO_NONCE_PREFIXES = ("/static/", "/api/v1/", "/live/", "/media/")


FRAME_ANCESTORS = "frame_ancestors"  # the request state key `allow_framing` sets


def allow_framing(state: Any, origins: Sequence[str]) -> None:
    """Let the sites `origins` (checked by `im2.embed.schemas.check_origin`) frame this one
    answer; none at all keeps it unframeable. Call it from the route, on `request.state`."""
    setattr(state, FRAME_ANCESTORS, tuple(origins))


def content_security_policy(nonce: str, frame_ancestors: Sequence[str] = ()) -> str:
    """The policy of every HTML page.

    Styles allow 'unsafe-inline': templates carry server-computed `style` attributes (bar
    widths, colours), htmx adds its indicator style element, and ECharts sizes its canvas
    inline. Inline styles cannot run code, and every value in them is escaped; scripts, which
    can, are held to 'self' and the nonce. Images may come from any https address because a
    poll option's picture is an editor-given https URL.
    """
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob: https:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors " + (" ".join(frame_ancestors) or "'none'"),
        )
    )


class SecurityHeadersMiddleware:
    def __init__(
        self, app: ASGIApp, *, secure_cookies: bool, hsts: bool, assume_https: bool
    ) -> None:
        self.app = app
        self.secure_cookies = secure_cookies
        self.hsts = hsts
        # Behind a proxy that ends TLS and does not say so, the scheme reads "http": a
        # production site whose base URL is https is taken at its word (browsers ignore HSTS
        # received over plain HTTP anyway).
        self.assume_https = assume_https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        https = self.assume_https or scope.get("scheme") == "https"
        nonce = None
        if not path.startswith(NO_NONCE_PREFIXES):
            nonce = secrets.token_urlsafe(16)
            scope.setdefault("state", {})["csp_nonce"] = nonce
        secure_cookies = self.secure_cookies or https
        no_store = path.startswith(NO_STORE_PREFIXES)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
                # Set by the route while it ran (`allow_framing`); an error page never has it.
                framers: tuple[str, ...] = scope.get("state", {}).get(FRAME_ANCESTORS, ())
                if not framers:
                    headers.setdefault("X-Frame-Options", "DENY")
                if nonce and headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault(
                        "Content-Security-Policy", content_security_policy(nonce, framers)
                    )
                if no_store:
                    headers.setdefault("Cache-Control", "no-store")
                if self.hsts and https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
                if secure_cookies:
                    message["headers"] = [
                        (name, _secure(value) if name == b"set-cookie" else value)
                        for name, value in message["headers"]
                    ]
            await send(message)

        await self.app(scope, receive, send_wrapper)


def _secure(cookie: bytes) -> bytes:
    if b"; secure" in cookie.lower():
        return cookie
    return cookie + b"; Secure"
