"""Per-request context as a pure ASGI middleware: locale, CSRF nonce cookie, device cookie.

Security headers and the cookies' Secure flag are `im2.web.security`'s.

Pure ASGI (not BaseHTTPMiddleware) so the locale context variable is set in the same context
the endpoint runs in.

A campaign's public pages (/c/<slug>…, /live/c/<slug>…, its widget /e/<slug>/…) speak one
of the languages the campaign offers: the visitor's choice (`?lang=`, remembered in its own
cookie so the console keeps its own), else their browser's Accept-Language, else the
campaign's default (docs/languages.md).
"""

from __future__ import annotations

import re
import secrets
import time
import uuid

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders, QueryParams
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from im2.campaigns.service import CAMPAIGN_CHANGED, public_languages
from im2.db import Database
from im2.embed.tokens import read_token
from im2.i18n import (
    DEFAULT_LOCALE,
    LOCALES,
    locale_from_accept_language,
    negotiate_public,
    normalize_locale,
    set_locale,
)

LANG_COOKIE = "im2_lang"
# A participant's language choice on public pages; not the console's (LANG_COOKIE).
PUBLIC_LANG_COOKIE = "im2_plang"
PUBLIC_CAMPAIGN = re.compile(r"^/(?:(?:live/)?c|e)/([^/]+)")
# How long a process trusts what it read of a campaign's languages (an edit shows within it).
LANGUAGES_TTL = 10.0
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
        # slug -> (read at, (default, offered) or None for no such campaign). An edit made
        # through this process empties it at its commit (`CAMPAIGN_CHANGED`); one made through
        # another process shows here within LANGUAGES_TTL.
        self._languages: dict[str, tuple[float, tuple[str, tuple[str, ...]] | None]] = {}
        self._heard: Database | None = None

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
        offered: tuple[str, ...] | None = None
        new_choice = None
        campaign = PUBLIC_CAMPAIGN.match(path)
        if path.startswith("/api/"):
            locale = locale_from_accept_language(accept_language, "en")
        elif campaign is not None:
            choice = normalize_locale(QueryParams(scope.get("query_string", b"")).get("lang"))
            if choice is not None and choice != cookies.get(PUBLIC_LANG_COOKIE):
                new_choice = choice
            choice = choice or normalize_locale(cookies.get(PUBLIC_LANG_COOKIE))
            languages = await self._campaign_languages(scope, campaign.group(1))
            default, within = languages if languages else (self.default_locale, LOCALES)
            locale = negotiate_public(
                choice=choice, accept_language=accept_language, default=default, offered=within
            )
            # No campaign at this address: its 404 page offers no switcher.
            offered = within if languages else None
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
        # The languages a public campaign page may switch between (its switcher).
        state["public_locales"] = offered
        state["device_id"] = device_id
        state["token_workspace_id"] = token_workspace_id

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                if campaign is not None:
                    # The page's language follows the header: a shared cache must keep apart.
                    out.add_vary_header("Accept-Language")
                if new_nonce:
                    out.append(
                        "Set-Cookie", f"{CSRF_COOKIE}={new_nonce}; Path=/; HttpOnly; SameSite=Lax"
                    )
                if new_choice:
                    out.append(
                        "Set-Cookie",
                        f"{PUBLIC_LANG_COOKIE}={new_choice}; Path=/; Max-Age={DEVICE_MAX_AGE}; "
                        "SameSite=Lax",
                    )
                if new_device:
                    out.append(
                        "Set-Cookie",
                        f"{DEVICE_COOKIE}={new_device}; Path=/; Max-Age={DEVICE_MAX_AGE}; "
                        "HttpOnly; SameSite=Lax",
                    )
            await send(message)

        await self.app(scope, receive, send_wrapper)

    async def _campaign_languages(
        self, scope: Scope, slug: str
    ) -> tuple[str, tuple[str, ...]] | None:
        now = time.monotonic()
        cached = self._languages.get(slug)
        if cached is not None and now - cached[0] < LANGUAGES_TTL:
            return cached[1]
        app = scope.get("app")
        db = getattr(getattr(app, "state", None), "db", None)
        if not isinstance(db, Database) or len(slug) > 64:
            return None
        if self._heard is not db:
            self._heard = db
            db.signals.listen(CAMPAIGN_CHANGED, lambda _campaign_id: self._languages.clear())

        def read() -> tuple[str, tuple[str, ...]] | None:
            with db.session() as session:
                return public_languages(session, slug=slug)

        found = await run_in_threadpool(read)
        if len(self._languages) >= 10_000:
            self._languages.clear()  # a crawl of unknown slugs must not grow it without end
        self._languages[slug] = (now, found)
        return found

    def _device_from(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            value = self.device_signer.loads(cookie)
        except BadSignature:
            return None
        return value if isinstance(value, str) and len(value) == 32 else None
