"""The incentives API as a shop and a brand's back office use it: pools, codes, redemptions,
balances, purchases; clear refusals; real concurrency against a live server."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.db import Database
from im2.events.service import list_events
from im2.incentives import service
from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer, make_brand
from tests.incentives.conftest import Setup


def _pool_with_codes(
    client: TestClient, brand: Brand, setup: Setup, count: int = 3, **extra: Any
) -> int:
    auth = brand.auth(Role.EDITOR)
    pool = client.post(
        f"/api/v1/campaigns/{setup.campaign_id}/coupon-pools",
        json={"name": "满100减20", "description": "到店使用", **extra},
        headers=auth,
    )
    assert pool.status_code == 201, pool.text
    pool_id: int = pool.json()["id"]
    made = client.post(
        f"/api/v1/coupon-pools/{pool_id}/codes/generate", json={"count": count}, headers=auth
    )
    assert made.json() == {"added": count, "total": count}
    return pool_id


def _issue(client: TestClient, brand: Brand, pool_id: int, participant: int, key: str) -> str:
    issued = client.post(
        f"/api/v1/coupon-pools/{pool_id}/issue",
        json={"participant_id": participant, "key": key},
        headers=brand.auth(Role.EDITOR),
    )
    assert issued.status_code == 200, issued.text
    code: str = issued.json()["coupon_code"]
    return code


def test_redeem_a_code_and_every_refusal(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, setup: Setup
) -> None:
    alice = setup.join(db, clock, "dev-alice")
    pool_id = _pool_with_codes(
        client, brand, setup, expires_at=(clock.now() + timedelta(days=10)).isoformat()
    )
    code = _issue(client, brand, pool_id, alice, "welcome-alice")
    assert _issue(client, brand, pool_id, alice, "welcome-alice") == code  # same key, same code
    auth = brand.auth(Role.EDITOR)

    typed = f"{code[:4].lower()}-{code[4:8]} {code[8:]}"  # as a cashier types it
    first = client.post(
        "/api/v1/redemptions",
        json={"code": typed, "order_id": "A-1", "store": "静安店"},
        headers=auth,
    )
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["code"], body["uses"], body["max_uses"], body["flagged"]) == (code, 1, 1, False)
    again = client.post(
        "/api/v1/redemptions",
        json={"code": code, "order_id": "A-1", "store": "静安店"},
        headers=auth,
    )
    assert again.json() == body  # the till retried: the same answer, nothing new

    used = client.post("/api/v1/redemptions", json={"code": code, "order_id": "B-2"}, headers=auth)
    assert used.status_code == 409
    assert used.json()["error"]["code"] == "coupon_used_up"

    typo = code[:-2] + ("2" if code[-2] != "2" else "3") + code[-1]
    bad = client.post("/api/v1/redemptions", json={"code": typo}, headers=auth)
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "code_typo"
    assert bad.json()["error"]["field"] == "code"
    looked_up = client.get(f"/api/v1/coupons/{typo}", headers=auth)
    assert looked_up.json()["error"]["code"] == "code_typo"

    unknown = client.post("/api/v1/redemptions", json={"code": "NOSUCHCODE"}, headers=auth)
    assert unknown.status_code == 404

    empty = client.post("/api/v1/redemptions", json={"code": " - "}, headers=auth)
    assert empty.status_code == 422

    # Another brand's token cannot see or use acme's codes.
    other = make_brand(db, slug="other", now=clock.now())
    code2 = _issue(client, brand, pool_id, alice, "second")
    foreign = client.post(
        "/api/v1/redemptions", json={"code": code2}, headers=other.auth(Role.OWNER)
    )
    assert foreign.status_code == 404
    assert client.get(f"/api/v1/coupons/{code2}", headers=other.auth(Role.OWNER)).status_code == 404

    # A viewer may look, not redeem.
    viewer = client.post(
        "/api/v1/redemptions", json={"code": code2}, headers=brand.auth(Role.VIEWER)
    )
    assert viewer.status_code == 403
    assert (
        client.get(f"/api/v1/coupons/{code2}", headers=brand.auth(Role.VIEWER)).json()["status"]
        == "issued"
    )

    clock.advance(timedelta(days=11))
    expired = client.post("/api/v1/redemptions", json={"code": code2}, headers=auth)
    assert expired.status_code == 410
    assert expired.json()["error"]["code"] == "coupon_expired"

    with db.session() as session:
        redeemed = list_events(session, kinds=["coupon.redeemed"])
    assert [(e.properties["code"], e.properties["order_id"]) for e in redeemed] == [(code, "A-1")]


def test_unissued_codes_and_idempotency_key(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, setup: Setup
) -> None:
    alice = setup.join(db, clock, "dev-alice")
    pool_id = _pool_with_codes(client, brand, setup, count=2, max_uses=5)
    auth = brand.auth(Role.EDITOR)
    with db.session() as session:
        [(free, _issued), _] = service.list_codes(
            session, actor=setup.actor, pool_id=pool_id, now=clock.now()
        )
    never_given = client.post("/api/v1/redemptions", json={"code": free.code}, headers=auth)
    assert never_given.status_code == 409

    code = _issue(client, brand, pool_id, alice, "k")
    headers = {**auth, "Idempotency-Key": "till-7-receipt-1"}
    one = client.post("/api/v1/redemptions", json={"code": code}, headers=headers)
    two = client.post("/api/v1/redemptions", json={"code": code}, headers=headers)
    assert one.status_code == two.status_code == 201
    assert one.json() == two.json()
    assert one.json()["uses"] == 1


def test_a_shared_code_used_in_many_places_is_flagged(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, setup: Setup
) -> None:
    alice = setup.join(db, clock, "dev-alice")
    pool_id = _pool_with_codes(client, brand, setup, count=1, max_uses=100)
    code = _issue(client, brand, pool_id, alice, "k")
    auth = brand.auth(Role.EDITOR)
    flags = []
    for i, store in enumerate(["静安店", "徐汇店", "浦东店", "浦东店"]):
        clock.advance(timedelta(minutes=5))
        answer = client.post(
            "/api/v1/redemptions",
            json={"code": code, "order_id": f"o{i}", "store": store},
            headers=auth,
        )
        assert answer.status_code == 201
        flags.append(answer.json()["flagged"])
    assert flags == [False, False, True, True]
    with db.session() as session:
        queue = service.list_flagged_redemptions(
            session, actor=setup.actor, campaign_id=setup.campaign_id
        )
    assert len(queue) == 2
    assert queue[0].evidence["stores"] == ["徐汇店", "浦东店", "静安店"]

    # The brand voids one: the code is voided, no further use.
    with db.transaction() as session:
        service.do_decide_redemption(
            session, actor=setup.actor, redemption_id=queue[0].id, approve=False, now=clock.now()
        )
    after = client.post("/api/v1/redemptions", json={"code": code, "order_id": "o9"}, headers=auth)
    assert after.status_code == 409
    assert (
        "voided" in after.json()["error"]["message"] or "作废" in after.json()["error"]["message"]
    )


def test_import_codes_all_or_nothing(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, setup: Setup
) -> None:
    auth = brand.auth(Role.EDITOR)
    pool_id = client.post(
        f"/api/v1/campaigns/{setup.campaign_id}/coupon-pools",
        json={"name": "门店券"},
        headers=auth,
    ).json()["id"]
    url = f"/api/v1/coupon-pools/{pool_id}/codes/import"
    ok = client.post(url, json={"codes": ["shop-0001", "SHOP0002", " shop 0003 "]}, headers=auth)
    assert ok.json() == {"added": 3, "total": 3}
    twice = client.post(url, json={"codes": ["SHOP0004", "SHOP0001"]}, headers=auth)
    assert twice.status_code == 409
    assert "SHOP0001" in twice.json()["error"]["message"]
    dup = client.post(url, json={"codes": ["X1", "x1"]}, headers=auth)
    assert dup.status_code == 422
    junk = client.post(url, json={"codes": ["ok1", "no/slash"]}, headers=auth)
    assert junk.status_code == 422
    pools = client.get(f"/api/v1/campaigns/{setup.campaign_id}/coupon-pools", headers=auth).json()
    assert pools[0]["total"] == 3  # nothing of the refused lists was written


def _award(
    http: httpx.Client, brand: Brand, setup: Setup, who: int, key: str, points: int = 10
) -> httpx.Response:
    return http.post(
        f"/api/v1/participants/{who}/points",
        json={"campaign_id": setup.campaign_id, "points": points, "key": key, "reason": "vote"},
        headers=brand.auth(Role.EDITOR),
    )


def test_1000_concurrent_redemptions_of_a_single_use_code(
    live_server: LiveServer, brand: Brand, db: Database, clock: ManualClock, setup: Setup
) -> None:
    alice = setup.join(db, clock, "dev-alice")
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        pool_id = _pool_with_codes(http, brand, setup, count=1)  # type: ignore[arg-type]
        code = _issue(http, brand, pool_id, alice, "k")  # type: ignore[arg-type]

    local = threading.local()
    clients: list[httpx.Client] = []

    def attempt(i: int) -> int:
        if not hasattr(local, "http"):  # one keep-alive connection per thread, like a till
            local.http = httpx.Client(base_url=live_server.url, timeout=120)
            clients.append(local.http)
        return int(
            local.http.post(
                "/api/v1/redemptions",
                json={"code": code, "order_id": f"order-{i}", "store": f"store-{i % 7}"},
                headers=brand.auth(Role.EDITOR),
            ).status_code
        )

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(attempt, range(1000)))
    elapsed = time.monotonic() - started
    for http in clients:
        http.close()
    print(f"1000 redemptions through 50 threads in {elapsed:.1f} s")
    assert statuses.count(201) == 1
    assert statuses.count(409) == 999
    with db.session() as session:
        ref = service.find_coupon(session, workspace_id=setup.workspace_id, code=code)
        assert ref is not None
        assert ref.uses == 1
        assert len(list_events(session, kinds=["coupon.redeemed"])) == 1


def test_the_same_reward_claimed_twice_at_once_is_one_entry(
    live_server: LiveServer, brand: Brand, db: Database, clock: ManualClock, setup: Setup
) -> None:
    bob = setup.join(db, clock, "dev-bob")

    def claim(i: int) -> str:
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            answer = _award(http, brand, setup, bob, key=f"milestone-{i // 20}")
            assert answer.status_code == 200, answer.text
            status: str = answer.json()["status"]
            return status

    with ThreadPoolExecutor(max_workers=40) as pool:
        statuses = list(pool.map(claim, range(100)))  # 5 keys, each claimed 20 times at once
    assert statuses.count("granted") == 5
    assert statuses.count("duplicate") == 95
    with db.session() as session:
        lines = service.list_ledger(session, workspace_id=setup.workspace_id, participant_id=bob)
    assert sorted(line.delta for line in lines) == [10] * 5


def test_concurrent_spends_never_go_below_zero(
    live_server: LiveServer, brand: Brand, db: Database, clock: ManualClock, setup: Setup
) -> None:
    carol = setup.join(db, clock, "dev-carol")
    with db.transaction() as session:
        prize = service.do_create_prize(
            session,
            actor=setup.actor,
            campaign_id=setup.campaign_id,
            name="贴纸",
            units=1000,
            cost_points=10,
            now=clock.now(),
        )
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        assert _award(http, brand, setup, carol, key="start", points=95).status_code == 200

    def buy(i: int) -> int:
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            return http.post(
                f"/api/v1/participants/{carol}/purchases",
                json={
                    "campaign_id": setup.campaign_id,
                    "item": "prize",
                    "item_id": prize.id,
                    "key": f"buy-{i}",
                },
                headers=brand.auth(Role.EDITOR),
            ).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(buy, range(60)))
    assert statuses.count(200) == 9  # 95 points buy nine 10-point stickers
    assert statuses.count(409) == 51
    with db.session() as session:
        balance = service.get_balance(
            session, workspace_id=setup.workspace_id, participant_id=carol, now=clock.now()
        )
        [left] = service.list_prizes(session, workspace_id=setup.workspace_id)
    assert balance.points == 5
    assert left.stock == 1000 - 9


def test_out_of_stock_spends_nothing(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, setup: Setup
) -> None:
    dave = setup.join(db, clock, "dev-dave")
    auth = brand.auth(Role.EDITOR)
    created = client.post(
        f"/api/v1/campaigns/{setup.campaign_id}/prizes",
        json={"name": "限量徽章", "units": 1, "cost_points": 30},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    prize = created.json()
    assert (prize["stock"], prize["units"]) == (1, 1)
    negative = client.post(
        f"/api/v1/campaigns/{setup.campaign_id}/prizes",
        json={"name": "负库存", "units": -1},
        headers=auth,
    )
    assert negative.status_code == 422
    assert _award(client, brand, setup, dave, key="s", points=100).status_code == 200  # type: ignore[arg-type]
    url = f"/api/v1/participants/{dave}/purchases"
    body = {"campaign_id": setup.campaign_id, "item": "prize", "item_id": prize["id"]}
    assert client.post(url, json={**body, "key": "1"}, headers=auth).json()["status"] == "granted"
    assert client.post(url, json={**body, "key": "1"}, headers=auth).json()["status"] == "duplicate"
    gone = client.post(url, json={**body, "key": "2"}, headers=auth)
    assert gone.status_code == 409
    assert gone.json()["error"]["code"] == "out_of_stock"
    balance = client.get(f"/api/v1/participants/{dave}/balance", headers=auth).json()
    assert balance["points"] == 70
    ledger = client.get(f"/api/v1/participants/{dave}/ledger", headers=auth).json()
    assert [(e["kind"], e["delta"], e["reason"]) for e in ledger] == [
        ("spend", -30, "限量徽章"),
        ("award", 100, "vote"),
    ]
    prizes = client.get(f"/api/v1/campaigns/{setup.campaign_id}/prizes", headers=auth).json()
    assert prizes[0]["stock"] == 0
    foreign = make_brand(db, slug="other", now=clock.now())
    assert (
        client.get(
            f"/api/v1/participants/{dave}/balance", headers=foreign.auth(Role.OWNER)
        ).status_code
        == 404
    )
