"""Per-request context as a pure ASGI middleware: locale, CSRF nonce cookie, security headers.

Pure ASGI (not BaseHTTPMiddleware) so the locale context variable is set in the same context
the endpoint runs in.
"""

from __future__ import annotations

import secrets
from http.cookies import SimpleCookie

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from im2.i18n import DEFAULT_LOCALE, locale_from_accept_language, normalize_locale, set_locale

LANG_COOKIE = "im2_lang"
CSRF_COOKIE = "im2_csrf"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, secure_cookies: bool, default_locale: str) -> None:
        self.app = app
        self.secure_cookies = secure_cookies
        self.default_locale = normalize_locale(default_locale) or DEFAULT_LOCALE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        cookies: dict[str, str] = {}
        if "cookie" in headers:
            parsed: SimpleCookie = SimpleCookie()
            try:
                parsed.load(headers["cookie"])
            except Exception:  # a malformed cookie header must not break the request
                parsed = SimpleCookie()
            cookies = {key: morsel.value for key, morsel in parsed.items()}

        path: str = scope["path"]
        if path.startswith("/api/"):
            locale = locale_from_accept_language(headers.get("accept-language"), "en")
        else:
            locale = normalize_locale(cookies.get(LANG_COOKIE)) or self.default_locale
        set_locale(locale)

        nonce = cookies.get(CSRF_COOKIE)
        new_nonce = None
        if not nonce or len(nonce) > 64:
            nonce = new_nonce = secrets.token_urlsafe(24)
        state = scope.setdefault("state", {})
        state["csrf_nonce"] = nonce
        state["locale"] = locale

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out.setdefault("X-Content-Type-Options", "nosniff")
                out.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
                out.setdefault("X-Frame-Options", "DENY")
                if new_nonce and not path.startswith(("/api/", "/static/")):
                    secure = "; Secure" if self.secure_cookies else ""
                    out.append(
                        "Set-Cookie",
                        f"{CSRF_COOKIE}={new_nonce}; Path=/; HttpOnly; SameSite=Lax{secure}",
                    )
            await send(message)

        await self.app(scope, receive, send_wrapper)
