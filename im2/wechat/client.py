"""WeChat's official-account API, as WeChat documents it, and the JS-SDK signature.

Only the base URLs come from the settings (tests point them at a local server); the paths,
parameters and answers are WeChat's:
- `GET /cgi-bin/token?grant_type=client_credential&appid=&secret=` -> access_token, expires_in
- `GET /cgi-bin/ticket/getticket?access_token=&type=jsapi` -> ticket, expires_in
- `GET /sns/oauth2/access_token?appid=&secret=&code=&grant_type=authorization_code`
  -> access_token, openid, scope, unionid (when the account is bound to an open platform)
- `GET /sns/userinfo?access_token=&openid=&lang=zh_CN` -> nickname, unionid
- the OAuth page `/connect/oauth2/authorize?appid=&redirect_uri=&response_type=code&scope=
  &state=#wechat_redirect` (WeChat checks the parameters in this order).
An error is `{"errcode": n, "errmsg": "..."}` with HTTP 200; `WechatError` carries it.

The secret, tokens and codes travel in query strings, which httpx logs at INFO: a filter on its
logger blanks them, so they never reach a log.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from im2.i18n import N_, _

TIMEOUT_SECONDS = 5.0
_SECRET_PARAMS = re.compile(r"((?:secret|access_token|code|ticket)=)[^&\s\"']+")

# What people are told for WeChat's error codes (the console shows them when testing).
ERRORS: dict[int, str] = {
    40001: N_("WeChat refused the AppSecret: check that it is the current one."),
    40125: N_("WeChat refused the AppSecret: check that it is the current one."),
    40013: N_("WeChat does not know this AppID: check it."),
    40164: N_(
        "WeChat refused this server's IP address: add it to the account's IP whitelist "
        "(公众平台 → 设置与开发 → 基本配置)."
    ),
    40029: N_("The WeChat sign-in code is not valid; please try again."),
    40163: N_("The WeChat sign-in code was used already; please try again."),
    -1: N_("WeChat is busy; please try again."),
}
UNREACHABLE = N_("WeChat could not be reached; please try again later.")


def _redact(text: str) -> str:
    return _SECRET_PARAMS.sub(r"\1***", text)


class _RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = _redact(record.getMessage())
            record.args = None
        elif isinstance(record.msg, str):
            record.msg = _redact(record.msg)
        return True


for _name in ("httpx", "httpcore"):
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _RedactSecrets) for f in _logger.filters):
        _logger.addFilter(_RedactSecrets())


class WechatError(Exception):
    """WeChat answered with an error, or could not be reached (`code` None)."""

    def __init__(self, code: int | None, errmsg: str) -> None:
        super().__init__(f"{code}: {errmsg}")
        self.code = code
        self.errmsg = errmsg

    @property
    def message(self) -> str:
        """For people, translated; WeChat's own words are kept for the unknown codes."""
        if self.code is None:
            return _(UNREACHABLE)
        known = ERRORS.get(self.code)
        if known is not None:
            return _(known)
        return _("WeChat answered with error {code}: {message}").format(
            code=self.code, message=self.errmsg[:120]
        )


def _get(base: str, path: str, params: dict[str, str]) -> dict[str, Any]:
    try:
        with httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
            response = client.get(base.rstrip("/") + path, params=params)
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise WechatError(None, _redact(type(exc).__name__ + ": " + str(exc))) from None
    if not isinstance(body, dict):
        raise WechatError(None, "the answer is not a JSON object")
    code = body.get("errcode", 0)
    if code not in (0, None):
        raise WechatError(int(code), str(body.get("errmsg", "")))
    return body


@dataclass(frozen=True, slots=True)
class Expiring:
    value: str
    expires_in: int  # seconds


def _expiring(body: dict[str, Any], key: str) -> Expiring:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise WechatError(None, f"the answer has no {key}")
    return Expiring(value, int(body.get("expires_in") or 7200))


def fetch_access_token(api_base: str, *, app_id: str, secret: str) -> Expiring:
    body = _get(
        api_base,
        "/cgi-bin/token",
        {"grant_type": "client_credential", "appid": app_id, "secret": secret},
    )
    return _expiring(body, "access_token")


def fetch_jsapi_ticket(api_base: str, *, access_token: str) -> Expiring:
    body = _get(
        api_base, "/cgi-bin/ticket/getticket", {"access_token": access_token, "type": "jsapi"}
    )
    return _expiring(body, "ticket")


@dataclass(frozen=True, slots=True)
class OAuthGrant:
    openid: str
    unionid: str | None
    scope: str
    access_token: str


def exchange_code(api_base: str, *, app_id: str, secret: str, code: str) -> OAuthGrant:
    body = _get(
        api_base,
        "/sns/oauth2/access_token",
        {"appid": app_id, "secret": secret, "code": code, "grant_type": "authorization_code"},
    )
    openid = body.get("openid")
    if not isinstance(openid, str) or not openid:
        raise WechatError(None, "the answer has no openid")
    unionid = body.get("unionid")
    return OAuthGrant(
        openid=openid,
        unionid=unionid if isinstance(unionid, str) and unionid else None,
        scope=str(body.get("scope", "")),
        access_token=str(body.get("access_token", "")),
    )


@dataclass(frozen=True, slots=True)
class UserInfo:
    nickname: str | None
    unionid: str | None


def fetch_userinfo(api_base: str, *, access_token: str, openid: str) -> UserInfo:
    body = _get(
        api_base,
        "/sns/userinfo",
        {"access_token": access_token, "openid": openid, "lang": "zh_CN"},
    )
    nickname = body.get("nickname")
    unionid = body.get("unionid")
    return UserInfo(
        nickname=nickname.strip()[:40] or None if isinstance(nickname, str) else None,
        unionid=unionid if isinstance(unionid, str) and unionid else None,
    )


SCOPE_BASE = "snsapi_base"
SCOPE_USERINFO = "snsapi_userinfo"


def authorize_url(open_base: str, *, app_id: str, redirect_uri: str, scope: str, state: str) -> str:
    """WeChat's OAuth page. The parameters go in WeChat's documented order and the URL ends in
    `#wechat_redirect`; the redirect URI is percent-encoded whole (`quote` with no safe
    characters), as WeChat asks."""
    query = urlencode(
        [
            ("appid", app_id),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", scope),
            ("state", state),
        ],
        quote_via=quote,
        safe="",
    )
    return f"{open_base.rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect"


def jsapi_signature(*, ticket: str, noncestr: str, timestamp: int, url: str) -> str:
    """`wx.config`'s signature: SHA-1 of the four fields sorted by name, joined as a query
    string without escaping; the URL is the page's without its #fragment."""
    page = url.split("#", 1)[0]
    text = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={page}"
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 (WeChat's scheme)
