"""Acting as participants' phones on the public pages (in-process or on a live server)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi.testclient import TestClient

from im2.participation.senders import MemorySender

Http = TestClient | httpx.Client


def me_token(http: Http, slug: str, action: str, channel: str | None = None) -> str:
    """The CSRF token of one of the "my page" forms (nickname, code, verify)."""
    page = http.get(f"/c/{slug}/me" + ("?sent=" + (channel or "") if action == "verify" else ""))
    forms = re.findall(r"<form\b.*?</form>", page.text, flags=re.S)
    form = next(f for f in forms if f'action="/c/{slug}/me/{action}"' in f)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    return token.group(1)


def me_post(
    http: Http, slug: str, action: str, data: dict[str, str], token: str | None = None
) -> Any:
    """Post one of the "my page" forms with its CSRF token (read from the page unless given)."""
    token = token or me_token(http, slug, action, data.get("channel"))
    return http.post(
        f"/c/{slug}/me/{action}", data={**data, "csrf_token": token}, follow_redirects=False
    )


def request_code(
    http: Http, slug: str, outbox: MemorySender, channel: str, destination: str
) -> str:
    """Ask for a code (joining with consent if new) and return it, as read from the outbox:
    call one at a time, the code is the one sent last."""
    sent = me_post(
        http, slug, "code", {"channel": channel, "destination": destination, "consent": "yes"}
    )
    assert sent.status_code == 303, sent.text[:500]
    return outbox.sent[-1][2]


def type_code(http: Http, slug: str, channel: str, code: str, token: str | None = None) -> Any:
    return me_post(http, slug, "verify", {"channel": channel, "code": code}, token)


def verify(http: Http, slug: str, outbox: MemorySender, channel: str, destination: str) -> None:
    """Ask for a code and type it in, as a participant does (joining with consent if new)."""
    code = request_code(http, slug, outbox, channel, destination)
    done = type_code(http, slug, channel, code)
    assert done.status_code == 303, done.text[:500]
