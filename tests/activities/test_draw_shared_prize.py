"""A lucky draw giving one of the campaign's prizes: one stock for the draw and the points store.

Instant wins take from the same stock as store purchases (and appear on the winner's "my
rewards" page); a scheduled draw reserves its units when it is created, so what it publishes can
always be paid; a prize of another campaign or workspace is refused with nothing written."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from im2.activities.formats.draw import core, reads
from im2.activities.formats.draw.jobs import run_scheduled_draws_job
from im2.activities.formats.draw.schemas import DrawRecord
from im2.clock import ManualClock
from im2.db import Database
from im2.participation import service as participation
from im2.participation.schemas import Visitor
from im2.workspaces.schemas import Role
from tests.activities.test_draw import (
    add_draw,
    enter_url,
    live_campaign,
    results,
    transition,
    verify_cli,
)
from tests.conftest import Brand, LiveServer, campaign_payload, go_live, make_brand
from tests.test_auth import login
from tests.test_console import form_token


def add_prize(
    client: TestClient | httpx.Client,
    brand: Brand,
    campaign_id: int,
    *,
    name: str = "樱花保温杯",
    units: int = 3,
    cost_points: int | None = 10,
) -> dict:
    made = client.post(
        f"/api/v1/campaigns/{campaign_id}/prizes",
        json={"name": name, "units": units, "cost_points": cost_points},
        headers=brand.auth(Role.OWNER),
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def prize_now(client: TestClient | httpx.Client, brand: Brand, campaign_id: int) -> dict:
    [prize] = client.get(
        f"/api/v1/campaigns/{campaign_id}/prizes", headers=brand.auth(Role.ANALYST)
    ).json()
    return dict(prize)


def join(db: Database, clock: ManualClock, brand: Brand, campaign_id: int, device: str) -> int:
    with db.transaction() as session:
        return participation.do_join(
            session,
            workspace_id=brand.workspace_id,
            campaign_id=campaign_id,
            visitor=Visitor(device_id=device, ip="203.0.113.9", user_agent="test"),
            consented=True,
            now=clock.now(),
        ).id


def give_points(
    client: TestClient | httpx.Client, brand: Brand, campaign_id: int, who: int, points: int
) -> None:
    client.post(
        f"/api/v1/participants/{who}/points",
        json={
            "campaign_id": campaign_id,
            "points": points,
            "key": f"start-{who}",
            "reason": "vote",
        },
        headers=brand.auth(Role.EDITOR),
    ).raise_for_status()


def buy(
    client: TestClient | httpx.Client,
    brand: Brand,
    campaign_id: int,
    who: int,
    prize_id: int,
    key: str,
) -> httpx.Response:
    return client.post(
        f"/api/v1/participants/{who}/purchases",
        json={"campaign_id": campaign_id, "item": "prize", "item_id": prize_id, "key": key},
        headers=brand.auth(Role.EDITOR),
    )


def claims_in_db(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(text("SELECT COUNT(*) FROM prize_claims")) or 0)


def test_an_instant_win_takes_the_shared_stock_and_shows_on_my_rewards(
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    campaign = live_campaign(client, brand)
    prize = add_prize(client, brand, campaign["id"], units=3)
    # Half the rolls pick the shared prize, the other half a draw-only sticker.
    draw_id = add_draw(
        client,
        brand,
        campaign["id"],
        prizes=[
            {"prize_id": prize["id"], "stock": 3, "odds": 0.5},
            {"name": "贴纸", "stock": 100, "odds": 0.5},
        ],
    )
    published = results(client, brand, draw_id)["prizes"]
    assert [(p["name"], p["units"], p["shared_prize_id"]) for p in published] == [
        ("樱花保温杯", 3, prize["id"]),
        ("贴纸", 100, None),
    ]

    url = enter_url(campaign["slug"], draw_id)
    winner: TestClient | None = None
    while winner is None:
        phone = TestClient(client.app)
        receipt = phone.post(url, json={"consent": True}).json()
        if receipt["prize"] == "樱花保温杯":
            winner = phone
    # One unit left the shared stock: the store sees it gone, the console counts it as the draw's.
    after_win = prize_now(client, brand, campaign["id"])
    assert (after_win["stock"], after_win["won_in_draws"]) == (2, 1)
    rewards = winner.get(f"/c/{campaign['slug']}/rewards").text
    assert "我的奖品" in rewards
    assert "樱花保温杯" in rewards
    assert "抽奖获得" in rewards

    # The store sells the last two units; the draw still has two of its three to give.
    buyer = join(db, clock, brand, campaign["id"], "dev-buyer")
    give_points(client, brand, campaign["id"], buyer, 100)
    for key in ("b1", "b2"):
        assert buy(client, brand, campaign["id"], buyer, prize["id"], key).status_code == 200
    assert buy(client, brand, campaign["id"], buyer, prize["id"], "b3").status_code == 409
    assert prize_now(client, brand, campaign["id"])["stock"] == 0
    shown = results(client, brand, draw_id)["prizes"][0]
    assert (shown["stock"], shown["shared_stock"]) == (2, 0)  # the draw's two can't be paid

    # An entry whose roll picks the sold-out prize wins nothing, and is published as missed.
    missed_phone: TestClient | None = None
    while missed_phone is None:
        phone = TestClient(client.app)
        receipt = phone.post(url, json={"consent": True}).json()
        assert receipt["prize"] in (None, "贴纸")
        if receipt["prize"] is None:
            missed_phone = phone
    assert "抽奖获得" not in missed_phone.get(f"/c/{campaign['slug']}/rewards").text
    assert claims_in_db(db) == 1 + 2  # draw-only stickers stay in the draw, as before

    transition(client, brand, campaign["id"], "ended")  # the instant draw's seed is revealed
    record = DrawRecord.model_validate(
        client.get(f"/api/v1/public/campaigns/{campaign['slug']}/draws/{draw_id}/record").json()
    )
    assert record.seed is not None
    assert len(record.missed) == 1
    assert reads.verify_record(record).ok, reads.verify_record(record).problems
    # Without the published misses, a loss while the draw still had units would be unexplained.
    assert not reads.verify_record(record.model_copy(update={"missed": {}})).ok
    verified = verify_cli(database_url, monkeypatch, draw_id)
    assert verified.exit_code == 0, verified.output


def test_a_scheduled_draw_reserves_its_units_and_gives_back_what_nobody_won(
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    campaign = live_campaign(client, brand)
    prize = add_prize(client, brand, campaign["id"], units=5)
    draw_at = (clock.now() + timedelta(hours=2)).isoformat()
    draw_id = add_draw(
        client,
        brand,
        campaign["id"],
        mode="scheduled",
        draw_at=draw_at,
        prizes=[{"prize_id": prize["id"], "stock": 3}],
    )
    reserved = prize_now(client, brand, campaign["id"])
    assert (reserved["stock"], reserved["reserved"], reserved["units"]) == (2, 3, 5)

    # A second draw cannot promise units that are not there: refused, nothing written.
    more = client.post(
        f"/api/v1/campaigns/{campaign['id']}/draws",
        json={
            "title": "第二轮",
            "mode": "scheduled",
            "draw_at": draw_at,
            "prizes": [{"prize_id": prize["id"], "stock": 3}],
        },
        headers=brand.auth(Role.OWNER),
    )
    assert more.status_code == 409
    assert "Only 2 of 樱花保温杯 are in stock" in more.json()["error"]["message"]
    activities = client.get(
        f"/api/v1/campaigns/{campaign['id']}/activities", headers=brand.auth(Role.ANALYST)
    ).json()
    assert len(activities) == 1
    assert prize_now(client, brand, campaign["id"])["stock"] == 2

    # The store sells what is free, never the reserve.
    buyer = join(db, clock, brand, campaign["id"], "dev-buyer")
    give_points(client, brand, campaign["id"], buyer, 100)
    for key in ("b1", "b2"):
        assert buy(client, brand, campaign["id"], buyer, prize["id"], key).status_code == 200
    sold_out = buy(client, brand, campaign["id"], buyer, prize["id"], "b3")
    assert sold_out.status_code == 409
    assert sold_out.json()["error"]["code"] == "out_of_stock"

    # Two entries for three reserved units: both win, the third unit goes back on sale.
    url = enter_url(campaign["slug"], draw_id)
    phones = [TestClient(client.app) for _ in range(2)]
    for phone in phones:
        assert phone.post(url, json={"consent": True}).status_code == 201
    clock.advance(timedelta(hours=2))
    assert run_scheduled_draws_job(db, clock) == [draw_id]
    assert run_scheduled_draws_job(db, clock) == []
    for phone in phones:
        assert "抽奖获得" in phone.get(f"/c/{campaign['slug']}/rewards").text
    after = prize_now(client, brand, campaign["id"])
    assert (after["stock"], after["reserved"], after["won_in_draws"]) == (1, 0, 2)
    assert claims_in_db(db) == 2 + 2
    assert buy(client, brand, campaign["id"], buyer, prize["id"], "b4").status_code == 200

    record = DrawRecord.model_validate(
        client.get(f"/api/v1/public/campaigns/{campaign['slug']}/draws/{draw_id}/record").json()
    )
    assert [(p.units, p.won) for p in record.prizes] == [(3, 2)]  # as published before
    assert reads.verify_record(record).ok
    verified = verify_cli(database_url, monkeypatch, draw_id)
    assert verified.exit_code == 0, verified.output

    login(client, brand.emails[Role.EDITOR])
    console = client.get(f"/console/w/acme/campaigns/{campaign['id']}/incentives").text
    assert "已抽中 2 份" in console


def test_a_prize_of_another_campaign_or_workspace_is_refused(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    campaign = live_campaign(client, brand)
    other = live_campaign(client, brand, slug="summer-vote")
    theirs = add_prize(client, brand, other["id"], name="夏日风扇")
    foreign_brand = make_brand(db, slug="rival", now=clock.now())
    foreign_campaign = client.post(
        "/api/v1/campaigns",
        json=campaign_payload(slug="rival-vote", starts_at="2026-03-01T10:00"),
        headers=foreign_brand.auth(Role.OWNER),
    ).json()
    foreign = add_prize(client, foreign_brand, foreign_campaign["id"], name="对手奖品")
    mine = add_prize(client, brand, campaign["id"], units=2)

    for prize_id in (theirs["id"], foreign["id"], 999_999):
        refused = client.post(
            f"/api/v1/campaigns/{campaign['id']}/draws",
            json={"title": "抽奖", "prizes": [{"prize_id": prize_id, "stock": 1, "odds": 0.5}]},
            headers=brand.auth(Role.OWNER),
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == "prizes"
        assert "this campaign's prizes" in refused.json()["error"]["message"]
    twice = client.post(
        f"/api/v1/campaigns/{campaign['id']}/draws",
        json={
            "title": "抽奖",
            "prizes": [
                {"prize_id": mine["id"], "stock": 1, "odds": 0.2},
                {"prize_id": mine["id"], "stock": 1, "odds": 0.2},
            ],
        },
        headers=brand.auth(Role.OWNER),
    )
    assert twice.status_code == 422
    too_many = client.post(
        f"/api/v1/campaigns/{campaign['id']}/draws",
        json={"title": "抽奖", "prizes": [{"prize_id": mine["id"], "stock": 3, "odds": 0.2}]},
        headers=brand.auth(Role.OWNER),
    )
    assert too_many.status_code == 409
    nameless = client.post(
        f"/api/v1/campaigns/{campaign['id']}/draws",
        json={"title": "抽奖", "prizes": [{"stock": 3, "odds": 0.2}]},
        headers=brand.auth(Role.OWNER),
    )
    assert nameless.status_code == 422

    # The console's form: a campaign prize offered with its stock; a tampered id is refused.
    login(client, brand.emails[Role.EDITOR])
    new_page = f"/console/w/acme/campaigns/{campaign['id']}/draw/new"
    action = f"/console/w/acme/campaigns/{campaign['id']}/draw"
    form = client.get(new_page).text
    assert f'name="shared_units_{mine["id"]}"' in form
    assert f'name="shared_units_{theirs["id"]}"' not in form
    tampered = client.post(
        action,
        data={
            "csrf_token": form_token(client, new_page, action),
            "title": "抽奖",
            "mode": "instant",
            f"shared_units_{foreign['id']}": "1",
            f"shared_odds_{foreign['id']}": "50",
        },
    )
    assert tampered.status_code == 422
    assert "请选择本活动的奖品" in tampered.text

    activities = client.get(
        f"/api/v1/campaigns/{campaign['id']}/activities", headers=brand.auth(Role.ANALYST)
    ).json()
    assert activities == []
    assert [prize_now(client, brand, c)["stock"] for c in (campaign["id"], other["id"])] == [2, 3]
    assert prize_now(client, foreign_brand, foreign_campaign["id"])["stock"] == 3

    made = client.post(
        action,
        data={
            "csrf_token": form_token(client, new_page, action),
            "title": "门店抽奖",
            "mode": "instant",
            f"shared_units_{mine['id']}": "2",
            f"shared_odds_{mine['id']}": "100",
            "prizes": "",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    detail = client.get(made.headers["location"]).text
    assert "与积分商城共用库存" in detail


def test_store_purchases_and_instant_wins_race_for_one_shared_stock(
    live_server: LiveServer, brand: Brand, db: Database, clock: ManualClock
) -> None:
    """20 units; 60 phones enter a draw that always picks the prize while 60 purchases (by 10
    participants) try to buy it, all at once through a real server: exactly 20 claims."""
    stock = 20
    base = live_server.url
    with httpx.Client(base_url=base, timeout=60) as http:
        owner = brand.auth(Role.OWNER)
        campaign = go_live(http, brand)
        prize = add_prize(http, brand, campaign["id"], units=stock, cost_points=1)
        draw = http.post(
            f"/api/v1/campaigns/{campaign['id']}/draws",
            json={
                "title": "限量保温杯抽奖",
                "prizes": [{"prize_id": prize["id"], "stock": stock, "odds": 1.0}],
            },
            headers=owner,
        ).json()
        buyers = [join(db, clock, brand, campaign["id"], f"dev-buyer-{i}") for i in range(10)]
        for who in buyers:
            give_points(http, brand, campaign["id"], who, 100)
    url = enter_url(campaign["slug"], draw["id"])

    def attempt(i: int) -> tuple[str, int, bool]:
        with httpx.Client(base_url=base, timeout=120) as phone:
            if i % 2 == 0:
                response = phone.post(url, json={"consent": True})
                won = response.status_code == 201 and bool(response.json()["won"])
                return "draw", response.status_code, won
            who = buyers[i // 2 % len(buyers)]
            response = buy(phone, brand, campaign["id"], who, prize["id"], f"buy-{i}")
            return "store", response.status_code, response.status_code == 200

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(attempt, range(120)))

    # Refusals are clear 409s (sold out, entries closed): never a 500 or "database locked".
    assert {code for _kind, code, _ok in outcomes} <= {200, 201, 409}, outcomes
    draw_wins = sum(ok for kind, _code, ok in outcomes if kind == "draw")
    store_sales = sum(ok for kind, _code, ok in outcomes if kind == "store")
    print(f"{stock} units: {draw_wins} won in the draw, {store_sales} bought in the store")
    assert draw_wins + store_sales == stock
    assert claims_in_db(db) == stock
    with httpx.Client(base_url=base, timeout=60) as http:
        left = prize_now(http, brand, campaign["id"])
        seen = http.get(f"/api/v1/draws/{draw['id']}/results", headers=owner).json()
    assert (left["stock"], left["won_in_draws"]) == (0, draw_wins)
    assert len(seen["winners"]) == draw_wins
    assert len({w["participant_id"] for w in seen["winners"]}) == draw_wins
    # Every entry that got in and did not win found the shared stock empty: the record says so.
    with db.session() as session:
        record = reads.record_of(session, activity_id=draw["id"], reveal=True)
    assert len(record.entries) - draw_wins == len(record.missed)
    assert core.verify(
        mode="instant",
        seed_hex=record.seed or "",
        commitment=record.commitment,
        entry_ids=record.entries,
        prizes=[
            core.PrizeTerms(id=p.id, units=p.units, odds=p.odds, shared=True) for p in record.prizes
        ],
        winners=record.winners,
        missed=record.missed,
    ).ok


def test_a_miss_is_only_accepted_for_the_shared_prize_the_roll_picked() -> None:
    seed = "ab" * 32
    entries = list(range(1, 41))
    shared = core.PrizeTerms(id=1, units=30, odds=0.5, shared=True)
    own = core.PrizeTerms(id=2, units=30, odds=0.5)
    picks = {e: core.instant_pick(seed, e, [shared, own]) for e in entries}
    # The store sold the shared prize out at once: every entry that picked it missed it.
    winners = {e: 2 for e, p in picks.items() if p == 2}
    missed = {e: 1 for e, p in picks.items() if p == 1}
    assert winners
    assert missed

    def check(prizes: list[core.PrizeTerms], missed: dict[int, int]) -> core.Verdict:
        return core.verify(
            mode="instant",
            seed_hex=seed,
            commitment=core.commitment_of(seed),
            entry_ids=entries,
            prizes=prizes,
            winners=winners,
            missed=missed,
        )

    assert check([shared, own], missed).ok
    assert not check([shared, own], {}).ok  # unexplained losses
    not_shared = core.PrizeTerms(id=1, units=30, odds=0.5)
    assert not check([not_shared, own], missed).ok  # only a shared stock can run out elsewhere
    some_winner = next(iter(winners))
    assert not check([shared, own], {**missed, some_winner: 1}).ok  # a winner cannot miss
