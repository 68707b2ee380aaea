"""A mention's link is shown as a link only when it is http(s): `javascript:` is refused at the
door, and one already stored (from before the check) is shown as text, never as an href."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from im2.db import Database
from im2.listening.models import Mention
from im2.web.templating import env
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_auth import login

EVIL = "javascript:alert(document.cookie)"
BASE = "/console/w/acme/listening"


def _mention(url: str | None) -> dict[str, object]:
    return {
        "platform": "weibo",
        "post_id": "p-1",
        "text": "冰箱用了三天就坏了，太差了",
        "url": url,
        "posted_at": "2026-03-02T01:00:00Z",
    }


@pytest.mark.parametrize(
    "url", [EVIL, " JavaScript:alert(1)", "data:text/html,<script>1</script>", "//evil.example/x"]
)
def test_a_mention_link_that_is_not_http_is_refused(
    client: TestClient, brand: Brand, url: str
) -> None:
    response = client.post(
        "/api/v1/mentions", json={"mentions": [_mention(url)]}, headers=brand.auth(Role.EDITOR)
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "mentions.0.url"


def test_a_stored_javascript_link_is_shown_as_text(
    client: TestClient, brand: Brand, db: Database
) -> None:
    editor = brand.auth(Role.EDITOR)
    stored = client.post(
        "/api/v1/mentions",
        json={"mentions": [_mention("https://weibo.example/p-1")]},
        headers=editor,
    )
    assert stored.status_code in (200, 201), stored.text
    with db.transaction() as session:  # a row saved before the check existed
        session.execute(update(Mention).values(url=EVIL))
    [item] = client.get("/api/v1/inbox", headers=editor).json()["items"]

    assert login(client, brand.emails[Role.EDITOR]) == 303
    for page in (f"{BASE}/mentions", f"{BASE}/inbox/{item['id']}"):
        html = client.get(page)
        assert html.status_code == 200, page
        assert 'href="javascript:' not in html.text.lower(), page
        assert "javascript:alert(document.cookie)" in html.text, page  # shown, as text


def test_the_safe_href_filter() -> None:
    render = env.from_string("{{ u|safe_href }}").render
    assert render(u="https://weibo.example/p?a=1") == "https://weibo.example/p?a=1"
    assert render(u="HTTP://weibo.example/") == "HTTP://weibo.example/"
    for bad in (EVIL, "java\tscript:x", "data:x", "/relative", "", None, "vbscript:x"):
        assert render(u=bad) == "None", bad
