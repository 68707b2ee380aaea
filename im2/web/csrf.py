"""CSRF protection for console forms: a signed double-submit token.

The browser holds a random nonce in an HttpOnly cookie; every form carries the nonce signed
with the server secret (itsdangerous). A cross-site page can make the browser send the
cookie, but cannot read it or forge the signature, so it cannot produce a matching field.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request

from im2.errors import Forbidden
from im2.i18n import _

FIELD = "csrf_token"
MAX_AGE_SECONDS = 24 * 3600


def _serializer(request: Request) -> URLSafeTimedSerializer:
    secret = request.app.state.settings.secret_key.get_secret_value()
    return URLSafeTimedSerializer(secret, salt="im2-csrf")


def csrf_token(request: Request) -> str:
    return str(_serializer(request).dumps(request.state.csrf_nonce))


def check_csrf(request: Request, submitted: str | None) -> None:
    error = Forbidden(
        _("The form has expired or did not come from this site. Reload the page and try again.")
    )
    if not submitted:
        raise error
    try:
        nonce = _serializer(request).loads(submitted, max_age=MAX_AGE_SECONDS)
    except BadSignature:
        raise error from None
    if nonce != request.state.csrf_nonce:
        raise error
