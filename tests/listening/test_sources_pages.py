"""Console pages for feeds (follow, last poll, poll now, remove) and for retraining the
workspace's sentiment model from its corrections."""

from __future__ import annotations

import re
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from fastapi.testclient import TestClient

from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.listening.conftest import loopback_server
from tests.listening.test_api import FEED
from tests.test_auth import csrf, login
from tests.test_console import form_token

BASE = "/console/w/acme/listening"


@pytest.fixture
def feeds_server() -> Iterator[str]:
    """`/good.xml` serves an RSS feed with two entries; anything else is a 404."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/good.xml":
                self.send_error(404)
                return
            body = FEED.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    with loopback_server(Handler) as url:
        yield url


def _row(page: str, marker: str) -> str:
    found = re.search(rf"<tr data-{marker}.*?</tr>", page, re.S)
    assert found, marker
    return found.group(0)


def test_feeds_are_followed_polled_and_removed_from_the_console(
    client: TestClient, brand: Brand, feeds_server: str
) -> None:
    assert login(client, brand.emails[Role.EDITOR]) == 303
    page = f"{BASE}/feeds"
    assert "还没有订阅任何信息源" in client.get(page).text

    token = form_token(client, page, page)
    bad = client.post(page, data={"csrf_token": token, "url": "ftp://example.com/x"})
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in bad.text
    assert 'value="ftp://example.com/x"' in bad.text
    for path, interval in (("/good.xml", "30"), ("/missing.xml", "15")):
        added = client.post(
            page,
            data={"csrf_token": token, "url": feeds_server + path, "interval_minutes": interval},
            follow_redirects=False,
        )
        assert added.status_code == 303, added.text
    again = client.post(page, data={"csrf_token": token, "url": feeds_server + "/good.xml"})
    assert again.status_code == 409
    assert "已在订阅这个信息源" in again.text

    listed = client.get(page).text
    assert listed.count("尚未抓取") == 2
    assert "30 分钟" in listed
    feeds = client.get("/api/v1/listening/feeds", headers=brand.auth(Role.ANALYST)).json()
    good = next(f for f in feeds if f["url"].endswith("/good.xml"))
    missing = next(f for f in feeds if f["url"].endswith("/missing.xml"))

    polled = client.post(
        f"{page}/{good['id']}/poll", data={"csrf_token": token}, follow_redirects=False
    )
    assert polled.status_code == 303
    shown = client.get(polled.headers["location"]).text
    assert "抓取完成：新增 2 条提及" in shown
    assert "正常" in _row(shown, f'feed="{good["id"]}"')
    mentions = client.get("/api/v1/mentions", headers=brand.auth(Role.ANALYST)).json()["items"]
    assert {m["post_id"] for m in mentions} == {"n-1", "n-2"}

    client.post(f"{page}/{missing['id']}/poll", data={"csrf_token": token})
    row = _row(client.get(page).text, f'feed="{missing["id"]}"')
    assert "失败" in row
    assert "HTTP 404" in row

    removed = client.post(
        f"{page}/{missing['id']}/delete", data={"csrf_token": token}, follow_redirects=False
    )
    assert removed.status_code == 303
    assert "missing.xml" not in client.get(page).text
    assert len(client.get("/api/v1/listening/feeds", headers=brand.auth(Role.ANALYST)).json()) == 1
    # The mentions a removed feed brought in stay; an unknown feed is a 404.
    assert client.post(f"{page}/999999/poll", data={"csrf_token": token}).status_code == 404


def test_an_analyst_sees_feeds_but_cannot_change_them(
    client: TestClient, brand: Brand, feeds_server: str
) -> None:
    added = client.post(
        "/api/v1/listening/feeds",
        json={"url": feeds_server + "/good.xml"},
        headers=brand.auth(Role.EDITOR),
    ).json()
    assert login(client, brand.emails[Role.ANALYST]) == 303
    page = client.get(f"{BASE}/feeds").text
    assert "good.xml" in page
    assert not re.search(r'<form method="post"[^>]*listening', page)
    token = csrf(client, f"{BASE}/feeds")
    for url in (f"{BASE}/feeds/{added['id']}/poll", f"{BASE}/feeds/{added['id']}/delete"):
        assert client.post(url, data={"csrf_token": token}).status_code == 403
    assert client.get("/api/v1/mentions", headers=brand.auth(Role.ANALYST)).json()["items"] == []


# --- retraining from corrections -------------------------------------------------------------

THINGS = [
    "冰箱",
    "空调",
    "洗衣机",
    "客服",
    "售后",
    "物流",
    "安装师傅",
    "新款手机",
    "包装",
    "说明书",
]
PRAISE = ["真是好得没话说", "质量真棒", "服务太贴心了", "做工真精致", "体验一流", "太让人满意了"]


def _mention(post_id: str, text: str) -> dict[str, object]:
    return {
        "platform": "weibo",
        "post_id": post_id,
        "text": text,
        "author": "fan" + post_id,
        "posted_at": "2026-03-02T01:30:00Z",
    }


@pytest.mark.real_model
def test_retraining_from_corrections_learns_the_brands_sarcasm(
    client: TestClient, brand: Brand
) -> None:
    """The fans of this brand praise with a trailing 呵呵, which means the opposite; the shipped
    model reads praise. The team corrects them; retraining learns it."""
    editor = brand.auth(Role.EDITOR)
    texts = [f"这{t}{p}，呵呵" for t in THINGS for p in PRAISE]
    batch = [_mention(f"s{i}", text) for i, text in enumerate(texts)]
    assert client.post("/api/v1/mentions", json={"mentions": batch}, headers=editor).json()[
        "imported"
    ] == len(texts)
    assert login(client, brand.emails[Role.EDITOR]) == 303
    page = f"{BASE}/sentiment-model"
    token = form_token(client, page, f"{page}/retrain")
    first = client.get(page).text
    assert 'data-model-in-use="shipped"' in first
    assert "disabled" in first
    refused = client.post(f"{page}/retrain", data={"csrf_token": token})
    assert refused.status_code == 422
    assert "至少" in refused.text

    items = client.get("/api/v1/mentions?limit=200", headers=editor).json()["items"]
    assert sum(m["sentiment"] == "negative" for m in items) < len(items) / 4
    for m in items:
        response = client.put(
            f"/api/v1/mentions/{m['id']}/sentiment", json={"sentiment": "negative"}, headers=editor
        )
        assert response.status_code == 200

    counted = client.get(page).text
    assert re.search(rf'data-figure="corrections">{len(items)}<', counted)
    assert re.search(rf'data-figure="negative">{len(items)}<', counted)
    retrained = client.post(f"{page}/retrain", data={"csrf_token": token}, follow_redirects=False)
    assert retrained.status_code == 303, retrained.text

    shown = client.get(page).text
    assert 'data-model-in-use="variant"' in shown
    row = _row(shown, "variant")
    before = float(re.search(r'accuracy-before">([\d.]+)%', row).group(1))  # type: ignore[union-attr]
    after = float(re.search(r'accuracy-after">([\d.]+)%', row).group(1))  # type: ignore[union-attr]
    assert before < 40, before
    assert after > 90, after

    # New mentions of this workspace are scored by the variant, with wording it never saw.
    fresh = [_mention("new-1", "这电视画面真清晰，呵呵"), _mention("new-2", "门店服务真周到，呵呵")]
    client.post("/api/v1/mentions", json={"mentions": fresh}, headers=editor).raise_for_status()
    scored = client.get("/api/v1/mentions?q=呵呵&limit=200", headers=editor).json()["items"]
    by_post = {m["post_id"]: m for m in scored}
    assert by_post["new-1"]["sentiment"] == by_post["new-2"]["sentiment"] == "negative"

    # Back to the shipped model: the next mention reads as praise again.
    variant_id = re.search(r'data-variant="(\d+)"', shown).group(1)  # type: ignore[union-attr]
    client.post(f"{page}/variants/{variant_id}/stop", data={"csrf_token": token})
    assert 'data-model-in-use="shipped"' in client.get(page).text
    client.post(
        "/api/v1/mentions",
        json={"mentions": [_mention("new-3", "这电视画面真清晰，呵呵")]},
        headers=editor,
    ).raise_for_status()
    later = client.get("/api/v1/mentions?q=呵呵&limit=200", headers=editor).json()["items"]
    assert next(m for m in later if m["post_id"] == "new-3")["sentiment"] != "negative"


def test_the_api_polls_removes_feeds_and_reports_the_model(
    client: TestClient, brand: Brand, feeds_server: str
) -> None:
    editor, viewer = brand.auth(Role.EDITOR), brand.auth(Role.ANALYST)
    feed = client.post(
        "/api/v1/listening/feeds", json={"url": feeds_server + "/good.xml"}, headers=editor
    ).json()
    assert (
        client.post(f"/api/v1/listening/feeds/{feed['id']}/poll", headers=viewer).status_code == 403
    )
    polled = client.post(f"/api/v1/listening/feeds/{feed['id']}/poll", headers=editor).json()
    assert polled["imported"] == 2
    assert polled["feed"]["last_error"] is None
    assert polled["feed"]["last_polled_at"] is not None
    again = client.post(f"/api/v1/listening/feeds/{feed['id']}/poll", headers=editor).json()
    assert again["imported"] == 0  # same entries: nothing new
    assert client.delete(f"/api/v1/listening/feeds/{feed['id']}", headers=editor).status_code == 204
    assert client.delete(f"/api/v1/listening/feeds/{feed['id']}", headers=editor).status_code == 404
    assert client.get("/api/v1/listening/feeds", headers=viewer).json() == []

    mention_id = client.get("/api/v1/mentions", headers=viewer).json()["items"][0]["id"]
    client.put(
        f"/api/v1/mentions/{mention_id}/sentiment", json={"sentiment": "negative"}, headers=editor
    ).raise_for_status()
    model = client.get("/api/v1/listening/sentiment-model", headers=viewer).json()
    assert model["corrections"]["total"] == 1
    assert model["corrections"]["by_label"]["negative"] == 1
    assert model["variants"] == []
    refused = client.post("/api/v1/listening/sentiment-model/retrain", headers=editor)
    assert refused.status_code == 422
    # It says what is needed and what there is (the one correction is either held out or a
    # training row).
    message = refused.json()["error"]["message"]
    assert "at least 8" in message
    assert "there are 1 and 0" in message or "there are 0 and 1" in message
    assert (
        client.post("/api/v1/listening/sentiment-model/retrain", headers=viewer).status_code == 403
    )
