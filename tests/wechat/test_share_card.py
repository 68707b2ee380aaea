"""The share card inside WeChat: `wx.config` signed for the page from a cached jsapi_ticket,
the campaign's title and the participant's own link; no card (and a working page) without an
account or when WeChat refuses it; one fetch of each token however many pages ask."""

from __future__ import annotations

import hashlib
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.db import Database
from im2.wechat import service, tokens
from im2.wechat.client import WechatError
from im2.wechat.schemas import Credentials
from tests.conftest import Brand
from tests.test_polls import live_campaign, vote_url
from tests.wechat.conftest import APP_ID, OTHER_SECRET, FakeWechat
from tests.wechat.helpers import SAFARI_UA, phone, save_account

JSSDK = "/static/vendor/jweixin-1.6.5.js"


def _card(browser: TestClient, slug: str, page: str) -> object:
    return browser.get(f"/c/{slug}/wechat/card", params={"url": page})


def test_a_page_inside_wechat_gets_a_signed_card_with_the_participants_own_link(
    app: FastAPI, client: TestClient, brand: Brand, wechat: FakeWechat
) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    assert save_account(client, brand).status_code == 303
    alice = phone(app)
    page = alice.get(f"/c/{slug}")
    assert page.status_code == 200
    assert JSSDK in page.text
    assert "/static/wechat.js" in page.text
    # Before taking part: the card shares the campaign page, tagged as coming from WeChat.
    url = f"http://testserver/c/{slug}?ch=moments#top"
    first = _card(alice, slug, url)
    assert first.status_code == 200, first.text
    card = first.json()
    assert card["appId"] == APP_ID
    assert card["title"] == "春季樱花投票"
    assert card["desc"] == "Brand acme"  # no description: the brand's name
    assert card["link"] == f"http://testserver/c/{slug}?ch=wechat"
    ticket = wechat.tickets[-1]
    signed = (
        f"jsapi_ticket={ticket}&noncestr={card['nonceStr']}&timestamp={card['timestamp']}"
        f"&url=http://testserver/c/{slug}?ch=moments"
    )
    assert card["signature"] == hashlib.sha1(signed.encode()).hexdigest()  # noqa: S324
    # After voting: the participant's own share link, the one the share page shows.
    voted = alice.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    assert voted.status_code == 201
    own = _card(alice, slug, url).json()["link"]
    assert own.startswith("http://testserver/s/")
    assert own.endswith("?ch=wechat")
    assert own in alice.get(f"/c/{slug}/share").text
    assert wechat.errors == []


def test_a_page_outside_wechat_or_without_an_account_has_no_card_and_works(
    app: FastAPI, client: TestClient, brand: Brand, wechat: FakeWechat
) -> None:
    slug, _poll, _options = live_campaign(client, brand)
    alice = phone(app)
    page = alice.get(f"/c/{slug}")
    assert page.status_code == 200
    assert JSSDK not in page.text
    missing = _card(alice, slug, f"http://testserver/c/{slug}")
    assert missing.status_code == 404
    assert "公众号" in missing.json()["error"]["message"]
    assert save_account(client, brand).status_code == 303
    safari = phone(app, SAFARI_UA).get(f"/c/{slug}")
    assert safari.status_code == 200
    assert JSSDK not in safari.text
    assert wechat.requests == []  # nobody asked WeChat for anything


def test_a_refused_secret_or_wechat_down_means_no_card_not_a_broken_page(
    app: FastAPI, client: TestClient, brand: Brand, wechat: FakeWechat
) -> None:
    slug, _poll, _options = live_campaign(client, brand)
    assert save_account(client, brand, secret=OTHER_SECRET).status_code == 303
    alice = phone(app)
    assert alice.get(f"/c/{slug}").status_code == 200
    refused = _card(alice, slug, f"http://testserver/c/{slug}")
    assert refused.status_code == 503
    assert "AppSecret" in refused.json()["error"]["message"]
    wechat.down = True
    assert save_account(client, brand).status_code == 303
    down = _card(alice, slug, f"http://testserver/c/{slug}")
    assert down.status_code == 503
    assert alice.get(f"/c/{slug}").status_code == 200
    assert alice.get(f"/c/{slug}/share").status_code == 200


def test_a_card_is_signed_only_for_the_campaigns_own_pages(
    app: FastAPI, client: TestClient, brand: Brand, wechat: FakeWechat
) -> None:
    slug, _poll, _options = live_campaign(client, brand)
    assert save_account(client, brand).status_code == 303
    alice = phone(app)
    alice.get(f"/c/{slug}")
    for url in ("https://evil.example.com/c/" + slug, "http://testserver/c/other", "x"):
        answer = _card(alice, slug, url)
        assert answer.status_code == 422, url
    assert (
        _card(alice, "no-such-campaign", "http://testserver/c/no-such-campaign").status_code == 404
    )
    assert alice.get(f"/c/{slug}/wechat/card").status_code == 422  # no url at all


def test_tokens_are_fetched_once_and_refreshed_once_before_they_expire(
    app: FastAPI, client: TestClient, brand: Brand, wechat: FakeWechat, clock: ManualClock
) -> None:
    slug, _poll, _options = live_campaign(client, brand)
    assert save_account(client, brand).status_code == 303
    phones = [phone(app) for _ in range(3)]
    for p in phones:
        p.get(f"/c/{slug}")
        for _ in range(3):
            assert _card(p, slug, f"http://testserver/c/{slug}").status_code == 200
    assert wechat.count("/cgi-bin/token") == 1
    assert wechat.count("/cgi-bin/ticket/getticket") == 1
    clock.advance(timedelta(seconds=7200 - 301))  # still more than the 5-minute margin
    assert _card(phones[0], slug, f"http://testserver/c/{slug}").status_code == 200
    assert wechat.count("/cgi-bin/token") == 1
    clock.advance(timedelta(seconds=2))  # inside the margin: refreshed, once
    for p in phones:
        assert _card(p, slug, f"http://testserver/c/{slug}").status_code == 200
    assert wechat.count("/cgi-bin/token") == 2
    assert wechat.count("/cgi-bin/ticket/getticket") == 2


def test_concurrent_callers_share_one_refresh(
    app: FastAPI, client: TestClient, brand: Brand, wechat: FakeWechat, db: Database
) -> None:
    """Eight threads ask at once while WeChat takes 0.3 s to answer: one fetch of each."""
    assert save_account(client, brand).status_code == 303
    wechat.delay = 0.3
    with db.session() as session:
        creds = service.credentials_of(session, workspace_id=brand.workspace_id)
    assert creds is not None
    store = tokens.DatabaseStore(db)
    clock = app.state.clock
    got: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        try:
            got.append(service.jsapi_ticket(store, creds, api_base=wechat.url, now=clock.now))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(got) == 8
    assert len(set(got)) == 1
    assert wechat.count("/cgi-bin/token") == 1
    assert wechat.count("/cgi-bin/ticket/getticket") == 1


def test_redis_away_is_no_card_not_a_crash(wechat: FakeWechat) -> None:
    """With IM2_REDIS_URL set and Redis gone, the token call fails like WeChat being away (the
    card endpoint answers 503 and the page stays as it is)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = tokens.RedisStore(f"redis://127.0.0.1:{port}/0")
    creds = Credentials(workspace_id=1, app_id=APP_ID, app_secret="x" * 32, ask_userinfo=False)
    with pytest.raises(WechatError) as raised:
        service.jsapi_ticket(store, creds, api_base=wechat.url, now=lambda: datetime.now(UTC))
    assert raised.value.code is None
    assert wechat.requests == []
