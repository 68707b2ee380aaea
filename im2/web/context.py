"""Per-request context as a pure ASGI middleware: locale, CSRF nonce cookie, device cookie.

Security headers and the cookies' Secure flag are `im2.web.security`'s.

Pure ASGI (not BaseHTTPMiddleware) so the locale context variable is set in the same context
the endpoint runs in.
"""

from __future__ import annotations

import secrets
import uuid

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from im2.embed.tokens import read_token
from im2.i18n import DEFAULT_LOCALE, locale_from_accept_language, normalize_locale, set_locale

LANG_COOKIE = "im2_lang"
CSRF_COOKIE = "im2_csrf"
DEVICE_COOKIE = "im2_device"
DEVICE_MAX_AGE = 400 * 24 * 3600  # the longest browsers keep a cookie
NO_FORMS = ("/api/", "/static/")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, default_locale: str, secret_key: str) -> None:
        self.app = app
        self.default_locale = normalize_locale(default_locale) or DEFAULT_LOCALE
        # A participant's identity is a random id in a signed cookie: it cannot be forged to
        # impersonate another device, and it needs no server-side session.
        self.device_signer = URLSafeSerializer(secret_key, salt="im2-device")
        self.secret_key = secret_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie_header = accept_language = embed_token = None
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookie_header = value.decode("latin-1")
            elif name == b"accept-language":
                accept_language = value.decode("latin-1")
            elif name == b"x-im2-token":
                embed_token = value.decode("latin-1")
        # Starlette's parser, as `request.cookies` reads them (lenient like browsers are).
        cookies = cookie_parser(cookie_header) if cookie_header else {}

        path: str = scope["path"]
        if path.startswith("/api/"):
            locale = locale_from_accept_language(accept_language, "en")
        else:
            locale = normalize_locale(cookies.get(LANG_COOKIE)) or self.default_locale
        set_locale(locale)

        nonce = cookies.get(CSRF_COOKIE)
        new_nonce = None
        if path.startswith(NO_FORMS):
            # API calls and assets carry no forms and get no CSRF cookie: no nonce to make.
            nonce = None
        elif not nonce or len(nonce) > 64:
            nonce = new_nonce = secrets.token_urlsafe(24)
        device_id = None
        new_device = None
        token_workspace_id = None
        if embed_token is not None and path.startswith("/api/v1/public/"):
            # The widget's identity (im2.embed.tokens): a framed page has no usable cookie.
            # A bad token is no identity at all, never a fresh cookie in its place.
            found = read_token(self.secret_key, embed_token)
            token_workspace_id, device_id = found if found else (None, None)
        elif path.startswith(("/c/", "/s/", "/live/", "/api/v1/public/")):
            device_id = self._device_from(cookies.get(DEVICE_COOKIE))
            if device_id is None:
                device_id = uuid.uuid4().hex
                new_device = self.device_signer.dumps(device_id)
        state = scope.setdefault("state", {})
        state["csrf_nonce"] = nonce
        state["locale"] = locale
        state["device_id"] = device_id
        state["token_workspace_id"] = token_workspace_id

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                if new_nonce:
                    out.append(
                        "Set-Cookie", f"{CSRF_COOKIE}={new_nonce}; Path=/; HttpOnly; SameSite=Lax"
                    )
                if new_device:
                    out.append(
                        "Set-Cookie",
                        f"{DEVICE_COOKIE}={new_device}; Path=/; Max-Age={DEVICE_MAX_AGE}; "
                        "HttpOnly; SameSite=Lax",
                    )
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _device_from(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            value = self.device_signer.loads(cookie)
        except BadSignature:
            return None
        return value if isinstance(value, str) and len(value) == 32 else None
