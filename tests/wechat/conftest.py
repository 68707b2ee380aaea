"""WeChat's official-account API as a local HTTP server on loopback (http.server in a thread)
that checks each request the way WeChat documents it and answers with the documented bodies:

- `GET /cgi-bin/token?grant_type=client_credential&appid=&secret=` (获取 Access token):
  `{"access_token", "expires_in": 7200}`, or `{"errcode": 40125, "errmsg": "invalid appsecret"}`,
  40013 for an unknown AppID;
- `GET /cgi-bin/ticket/getticket?access_token=&type=jsapi` (JS-SDK 附录1):
  `{"errcode": 0, "errmsg": "ok", "ticket", "expires_in": 7200}`, 40001 for a bad token;
- `GET /connect/oauth2/authorize?appid=&redirect_uri=&response_type=code&scope=&state=` (网页授权
  第一步): the visitor agrees and is sent to `redirect_uri?code=CODE&state=STATE`;
- `GET /sns/oauth2/access_token?appid=&secret=&code=&grant_type=authorization_code` (第二步):
  `{"access_token", "expires_in", "refresh_token", "openid", "scope", "unionid"?}`; 40029 for an
  unknown code, 40163 for one used already (a code works once);
- `GET /sns/userinfo?access_token=&openid=&lang=zh_CN` (第四步): nickname, unionid.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from im2.config import Settings

APP_ID = "wx1234567890abcdef"
APP_SECRET = "0123456789abcdef0123456789abcdef"
OTHER_SECRET = "ffffffffffffffffffffffffffffffff"


@dataclass
class WechatUser:
    openid: str
    unionid: str | None = None
    nickname: str = "微信用户"


@dataclass
class FakeWechat:
    url: str = ""
    delay: float = 0.0  # seconds before answering a token or ticket request
    down: bool = False  # answer 502 to everything (WeChat unreachable)
    requests: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    tokens: dict[str, int] = field(default_factory=dict)  # valid access tokens
    tickets: list[str] = field(default_factory=list)
    codes: dict[str, tuple[WechatUser, str]] = field(default_factory=dict)  # code -> user, scope
    used: set[str] = field(default_factory=set)
    user: WechatUser = field(default_factory=lambda: WechatUser("oOpenId-alice-000000000001"))
    errors: list[str] = field(default_factory=list)  # requests that broke WeChat's rules
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, path: str) -> int:
        return sum(1 for p, _q in self.requests if p == path)


def _expect(fake: FakeWechat, path: str, query: list[tuple[str, str]], names: list[str]) -> None:
    """The parameters WeChat documents, each once, nothing else (order aside)."""
    got = sorted(k for k, _v in query)
    if got != sorted(names):
        fake.errors.append(f"{path}: parameters {got}, expected {sorted(names)}")


def _answer(fake: FakeWechat, path: str, q: dict[str, str], query: list[tuple[str, str]]) -> Any:
    if path == "/cgi-bin/token":
        _expect(fake, path, query, ["grant_type", "appid", "secret"])
        if q.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        if q.get("appid") != APP_ID:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if q.get("secret") != APP_SECRET:
            return {"errcode": 40125, "errmsg": "invalid appsecret, rid: 6571c3f1-1"}
        with fake.lock:
            token = f"ACCESS-TOKEN-{len(fake.tokens) + 1:04d}"
            fake.tokens[token] = 1
        return {"access_token": token, "expires_in": 7200}
    if path == "/cgi-bin/ticket/getticket":
        _expect(fake, path, query, ["access_token", "type"])
        if q.get("access_token") not in fake.tokens or q.get("type") != "jsapi":
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
        with fake.lock:
            ticket = f"JSAPI-TICKET-{len(fake.tickets) + 1:04d}"
            fake.tickets.append(ticket)
        return {"errcode": 0, "errmsg": "ok", "ticket": ticket, "expires_in": 7200}
    if path == "/sns/oauth2/access_token":
        _expect(fake, path, query, ["appid", "secret", "code", "grant_type"])
        if q.get("grant_type") != "authorization_code" or q.get("appid") != APP_ID:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if q.get("secret") != APP_SECRET:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        code = q.get("code", "")
        if code in fake.used:
            return {"errcode": 40163, "errmsg": "code been used"}
        if code not in fake.codes:
            return {"errcode": 40029, "errmsg": "invalid code"}
        fake.used.add(code)
        user, scope = fake.codes[code]
        body = {
            "access_token": f"OAUTH-TOKEN-{code}",
            "expires_in": 7200,
            "refresh_token": f"REFRESH-{code}",
            "openid": user.openid,
            "scope": scope,
        }
        if user.unionid and scope == "snsapi_base":
            body["unionid"] = user.unionid
        return body
    if path == "/sns/userinfo":
        _expect(fake, path, query, ["access_token", "openid", "lang"])
        code = q.get("access_token", "").removeprefix("OAUTH-TOKEN-")
        if code not in fake.codes or fake.codes[code][1] != "snsapi_userinfo":
            return {"errcode": 40001, "errmsg": "invalid credential"}
        user = fake.codes[code][0]
        body = {"openid": user.openid, "nickname": user.nickname, "sex": 0, "privilege": []}
        if user.unionid:
            body["unionid"] = user.unionid
        return body
    return None


@pytest.fixture
def wechat() -> Iterator[FakeWechat]:
    fake = FakeWechat()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qsl(parts.query, keep_blank_values=True)
            with fake.lock:
                fake.requests.append((parts.path, query))
            if fake.down:
                self.send_response(502)
                self.end_headers()
                return
            if parts.path == "/connect/oauth2/authorize":
                self._authorize(parts.query, query)
                return
            if fake.delay and parts.path.startswith("/cgi-bin/"):
                time.sleep(fake.delay)
            answer = _answer(fake, parts.path, dict(query), query)
            if answer is None:
                self.send_response(404)
                self.end_headers()
                return
            payload = json.dumps(answer, ensure_ascii=False).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; encoding=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _authorize(self, raw: str, query: list[tuple[str, str]]) -> None:
            names = [k for k, _v in query]
            if names != ["appid", "redirect_uri", "response_type", "scope", "state"]:
                fake.errors.append(f"authorize: parameters in the order {names}")
            q = dict(query)
            if "redirect_uri=http%3A%2F%2F" not in raw:
                fake.errors.append("authorize: redirect_uri is not percent-encoded whole")
            if q.get("response_type") != "code" or q.get("appid") != APP_ID:
                fake.errors.append(f"authorize: {q}")
            scope = q.get("scope", "")
            if scope not in ("snsapi_base", "snsapi_userinfo"):
                fake.errors.append(f"authorize: scope {scope}")
            with fake.lock:
                code = f"CODE{len(fake.codes) + 1:06d}"
                fake.codes[code] = (fake.user, scope)
            target = f"{q.get('redirect_uri')}?code={code}&state={q.get('state')}"
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def settings(settings: Settings, wechat: FakeWechat) -> Settings:
    """The app's settings with WeChat's base URLs on the local server (nothing else changed)."""
    return settings.model_copy(
        update={"wechat_api_base": wechat.url, "wechat_open_base": wechat.url}
    )


@pytest.fixture(autouse=True)
def _fresh_account_cache() -> Iterator[None]:
    """Which campaigns have an account is cached for 30 s per process; tests reuse slugs."""
    from im2.wechat.public import ACCOUNTS

    ACCOUNTS.clear()
    yield
    ACCOUNTS.clear()
