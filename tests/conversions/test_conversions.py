"""Conversions reported by a shop: attribution (first vs last touch), idempotency by order id,
conflicts, bad input that writes nothing, and revenue/ROI through the metrics API."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import httpx
from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.db import Database
from im2.events.service import list_events
from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer
from tests.test_auth import login
from tests.test_polls import live_campaign, vote_url
from tests.test_sharing import _get_link as share_link

BUDGET = 8000  # the weibo budget of the default campaign payload (tests/conftest.py)


def joined_id(db: Database, *, referrer: str | None = None, nth: int = 0) -> int:
    with db.session() as session:
        joins = list_events(session, kinds=["participant.joined"])
    if referrer is not None:
        joins = [j for j in joins if j.referrer == referrer]
    return int(str(joins[nth].actor_id))


def fission(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> dict[str, object]:
    """Alice and Bob share; Carol comes through Alice's WeChat link, votes, and an hour later
    clicks Bob's Weibo link."""
    slug, poll_id, options = live_campaign(client, brand)
    campaign_id = client.get(
        f"/api/v1/activities/{poll_id}", headers=brand.auth(Role.OWNER)
    ).json()["campaign_id"]
    alice, bob, carol = client, TestClient(client.app), TestClient(client.app)
    for person, option in ((alice, 0), (bob, 1)):
        voted = person.post(
            vote_url(slug, poll_id), json={"options": [options[option]], "consent": True}
        )
        assert voted.status_code == 201
    code_a, code_b = share_link(alice, slug), share_link(bob, slug)
    carol.get(f"/s/{code_a}?ch=wechat", follow_redirects=False)
    assert (
        carol.post(
            vote_url(slug, poll_id), json={"options": [options[2]], "consent": True}
        ).status_code
        == 201
    )
    clock.advance(timedelta(hours=1))
    carol.get(f"/s/{code_b}?ch=weibo", follow_redirects=False)
    clock.advance(timedelta(hours=1))
    return {
        "campaign_id": campaign_id,
        "slug": slug,
        "code_a": code_a,
        "code_b": code_b,
        "alice": joined_id(db, nth=0),
        "bob": joined_id(db, nth=1),
        "carol": joined_id(db, referrer=code_a),
    }


def order(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "order_id": "A-1001",
        "amount": "10000.00",
        "currency": "CNY",
        "occurred_at": "2026-03-02T12:30:00+08:00",
    }
    body.update(overrides)
    return body


def conversion_events(db: Database) -> list[object]:
    with db.session() as session:
        return list(list_events(session, kinds=["conversion.recorded"]))


def test_first_and_last_touch_and_roi_through_the_metrics_api(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    f = fission(client, brand, db, clock)
    shop = brand.auth(Role.EDITOR)
    recorded = client.post(
        "/api/v1/conversions", json=order(participant_id=f["carol"]), headers=shop
    )
    assert recorded.status_code == 201, recorded.text
    body = recorded.json()
    assert body["campaign_id"] == f["campaign_id"]
    assert body["amount"] == "10000.00"
    assert body["participant_id"] == f["carol"]
    first, last = body["first_touch"], body["last_touch"]
    assert (first["code"], first["channel"], first["sharer_id"]) == (
        f["code_a"],
        "wechat",
        f["alice"],
    )
    assert (last["code"], last["channel"], last["sharer_id"]) == (f["code_b"], "weibo", f["bob"])
    assert (body["channel"], body["referrer"]) == ("weibo", f["code_b"])  # credited: last touch

    owner = brand.auth(Role.ANALYST)
    metrics = client.get(
        f"/api/v1/campaigns/{f['campaign_id']}/metrics",
        params={"metrics": "revenue,roi,conversions"},
        headers=owner,
    )
    assert metrics.status_code == 200, metrics.text
    figures = metrics.json()["metrics"]
    assert figures["conversions"]["value"] == 1
    assert figures["revenue"]["value"] == 10000
    assert figures["roi"]["value"] == (10000 - BUDGET) / BUDGET * 100  # 25 %
    by_channel = client.get(
        f"/api/v1/campaigns/{f['campaign_id']}/metrics",
        params={"metrics": "revenue", "channel": "weibo"},
        headers=owner,
    ).json()["metrics"]
    assert by_channel["revenue"]["value"] == 10000
    wechat = client.get(
        f"/api/v1/campaigns/{f['campaign_id']}/metrics",
        params={"metrics": "revenue", "channel": "wechat"},
        headers=owner,
    ).json()["metrics"]
    assert not wechat["revenue"]["value"]

    # A buyer who came straight to the campaign: no touches, nothing credited to a sharer.
    direct = client.post(
        "/api/v1/conversions",
        json=order(order_id="A-1002", amount=500, participant_id=f["alice"]),
        headers=shop,
    ).json()
    assert direct["first_touch"] is None
    assert direct["last_touch"] is None
    assert direct["referrer"] is None

    login(client, brand.emails[Role.ANALYST])
    page = client.get(f"/console/w/acme/campaigns/{f['campaign_id']}/conversions")
    assert page.status_code == 200
    assert "A-1001" in page.text
    assert "10000.00 CNY" in page.text
    assert '<strong id="revenue">10,500</strong>' in page.text
    assert '<strong id="roi">31.2%</strong>' in page.text  # (10500 − 8000) / 8000
    assert f["code_a"] in page.text
    assert f["code_b"] in page.text
    assert "首次触达" in page.text


def test_the_same_order_twice_is_one_conversion_and_another_amount_is_refused(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    f = fission(client, brand, db, clock)
    shop = brand.auth(Role.EDITOR)
    first = client.post("/api/v1/conversions", json=order(participant_id=f["carol"]), headers=shop)
    again = client.post(
        "/api/v1/conversions", json=order(participant_id=f["carol"], amount=10000), headers=shop
    )
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()

    for changed in ({"amount": "10000.01"}, {"currency": "USD"}):
        refused = client.post(
            "/api/v1/conversions", json=order(participant_id=f["carol"], **changed), headers=shop
        )
        assert refused.status_code == 409, refused.text
        message = refused.json()["error"]["message"]
        assert "A-1001" in message
        assert "10000.00 CNY" in message
    assert len(conversion_events(db)) == 1
    listed = client.get(
        "/api/v1/conversions", params={"campaign_id": f["campaign_id"]}, headers=shop
    ).json()
    assert [c["order_id"] for c in listed["items"]] == ["A-1001"]


def test_bad_input_is_refused_and_nothing_is_written(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    f = fission(client, brand, db, clock)
    shop = brand.auth(Role.EDITOR)
    carol = {"participant_id": f["carol"]}
    cases: list[tuple[dict[str, object], str]] = [
        (order(currency="RMB", **carol), "currency"),
        (order(currency="XYZ", **carol), "currency"),
        (order(currency="USD", **carol), "currency"),  # the campaign counts in CNY
        (order(amount="-5", **carol), "amount"),
        (order(amount="12.345", **carol), "amount"),
        (order(amount="NaN", **carol), "amount"),
        (order(amount="lots", **carol), "amount"),
        (order(coupon_code="NOPE-NOPE-1"), "coupon_code"),
        (order(participant_id=999_999), "participant_id"),
        (order(share_code="zzzzzzzzzz"), "share_code"),
        (order(participant_id=f["carol"], share_code=f["code_a"]), "share_code"),
        (order(), "participant_id"),
        (order(occurred_at="2026-03-02T12:30:00", **carol), "occurred_at"),
        (order(occurred_at="2026-04-02T12:30:00+08:00", **carol), "occurred_at"),
        (order(order_id="", **carol), "order_id"),
        (order(campaign_id=424242, **carol), "campaign_id"),
    ]
    for body, field in cases:
        refused = client.post("/api/v1/conversions", json=body, headers=shop)
        assert 400 <= refused.status_code < 500, (body, refused.text)
        error = refused.json()["error"]
        assert field in (error.get("field") or "") or field in error["message"], (body, error)
        assert error["message"]
    jpy = client.post(
        "/api/v1/conversions", json=order(currency="JPY", amount="100.5", **carol), headers=shop
    )
    assert jpy.status_code == 422
    assert "JPY" in jpy.json()["error"]["message"]
    viewer = client.post(
        "/api/v1/conversions", json=order(**carol), headers=brand.auth(Role.VIEWER)
    )
    assert viewer.status_code == 403
    assert conversion_events(db) == []
    assert client.get("/api/v1/conversions", headers=shop).json()["items"] == []


def test_coupon_and_share_code_references(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    f = fission(client, brand, db, clock)
    owner = brand.auth(Role.OWNER)
    pool = client.post(
        f"/api/v1/campaigns/{f['campaign_id']}/coupon-pools",
        json={"name": "满 100 减 20"},
        headers=owner,
    )
    assert pool.status_code == 201, pool.text
    pool_id = pool.json()["id"]
    assert (
        client.post(
            f"/api/v1/coupon-pools/{pool_id}/codes/generate", json={"count": 3}, headers=owner
        ).status_code
        == 201
    )
    issued = client.post(
        f"/api/v1/coupon-pools/{pool_id}/issue",
        json={"participant_id": f["carol"], "key": "test-carol"},
        headers=owner,
    )
    assert issued.status_code in (200, 201), issued.text
    code = issued.json()["coupon_code"]
    assert code

    by_coupon = client.post("/api/v1/conversions", json=order(coupon_code=code), headers=owner)
    assert by_coupon.status_code == 201, by_coupon.text
    got = by_coupon.json()
    assert got["participant_id"] == f["carol"]
    assert got["coupon_code"] == code
    assert got["last_touch"]["code"] == f["code_b"]

    by_link = client.post(
        "/api/v1/conversions",
        json=order(order_id="B-7", amount=88, share_code=f["code_a"].upper()),
        headers=owner,
    )
    assert by_link.status_code == 201, by_link.text
    link = by_link.json()
    assert link["participant_id"] is None
    assert link["referrer"] == f["code_a"]
    assert link["first_touch"]["sharer_id"] == f["alice"]
    events = conversion_events(db)
    assert [e.properties["order_id"] for e in events] == ["A-1001", "B-7"]  # type: ignore[attr-defined]


def test_concurrent_reports_of_one_order_record_it_once(
    live_server: LiveServer, brand: Brand, db: Database, clock: ManualClock
) -> None:
    with TestClient(live_server.app) as setup:
        f = fission(setup, brand, db, clock)
    shop = brand.auth(Role.EDITOR)
    codes: list[int] = []
    lock = threading.Lock()

    def report() -> None:
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            answer = http.post(
                "/api/v1/conversions", json=order(participant_id=f["carol"]), headers=shop
            )
        with lock:
            codes.append(answer.status_code)

    threads = [threading.Thread(target=report) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] * 11 + [201]
    assert len(conversion_events(db)) == 1


def test_unknown_order_lookup(client: TestClient, brand: Brand) -> None:
    missing = client.get("/api/v1/conversions/NO-SUCH", headers=brand.auth(Role.ANALYST))
    assert missing.status_code == 404
    assert re.search("order", missing.json()["error"]["message"])
