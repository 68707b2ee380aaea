"""Inside WeChat's browser, which does not download files: the share sheet shows the poster to
press and hold instead of a download link; everywhere, a Weibo share intent filled in with the
participant's Weibo link; Douyin, which has no web share intent, gets copy and poster."""

from __future__ import annotations

import html
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import Brand
from tests.test_polls import live_campaign, vote_url
from tests.wechat.helpers import SAFARI_UA, phone


def _joined(
    app: FastAPI, client: TestClient, brand: Brand, user_agent: str
) -> tuple[TestClient, str]:
    slug, poll_id, options = live_campaign(client, brand)
    browser = phone(app, user_agent)
    browser.get(f"/c/{slug}")
    voted = browser.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    assert voted.status_code == 201
    return browser, slug


def test_inside_wechat_the_poster_is_shown_to_press_and_hold(
    app: FastAPI, client: TestClient, brand: Brand
) -> None:
    alice, slug = _joined(app, client, brand, phone(app).headers["user-agent"])
    sheet = alice.get(f"/c/{slug}/share").text
    assert 'id="save-poster"' not in sheet  # a download WeChat would swallow
    assert 'id="poster-inline"' in sheet
    assert f'src="/c/{slug}/share/poster.png"' in sheet
    assert "长按海报" in sheet
    poster = alice.get(f"/c/{slug}/share/poster.png")
    assert poster.status_code == 200
    assert poster.headers["content-type"] == "image/png"


def test_in_a_browser_the_poster_downloads_and_weibo_has_its_share_page(
    app: FastAPI, client: TestClient, brand: Brand
) -> None:
    bob, slug = _joined(app, client, brand, SAFARI_UA)
    sheet = bob.get(f"/c/{slug}/share").text
    assert 'id="save-poster"' in sheet
    assert 'id="poster-inline"' not in sheet
    start = sheet.index('id="weibo-share" href="') + len('id="weibo-share" href="')
    intent = html.unescape(sheet[start : sheet.index('"', start)])
    parts = urlsplit(intent)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://service.weibo.com/share/share.php"
    )
    query = parse_qs(parts.query)
    assert query["title"] == ["春季樱花投票"]
    (link,) = query["url"]
    assert link.startswith("http://testserver/s/")
    assert link.endswith("?ch=weibo")
    assert "抖音无法从网页直接分享链接" in sheet
    assert "分享到微博" in sheet
