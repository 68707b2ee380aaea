"""Draw entries racing each other through a real server on loopback (threads, distinct phones):
however many claim at once, a prize never has more winners than units."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from im2.workspaces.schemas import Role
from tests.activities.test_draw import INSTANT
from tests.conftest import Brand, LiveServer


def test_five_hundred_claims_on_ten_units_make_exactly_ten_winners(
    live_server: LiveServer, brand: Brand
) -> None:
    owner = brand.auth(Role.OWNER)
    base = live_server.url
    campaign = live_server.live_campaign(brand)
    draw = httpx.post(
        f"{base}/api/v1/campaigns/{campaign['id']}/draws",
        json={**INSTANT, "prizes": [{"name": "限量保温杯", "stock": 10, "odds": 1.0}]},
        headers=owner,
    ).json()
    url = f"{base}/api/v1/public/campaigns/{campaign['slug']}/draws/{draw['id']}/entries"

    # 500 phones, each with its own device cookie from the public page, all claiming at once.
    def claim(_index: int) -> tuple[int, bool]:
        with httpx.Client(timeout=60) as phone:
            phone.get(f"{base}/c/{campaign['slug']}").raise_for_status()
            response = phone.post(url, json={"consent": True})
            won = response.status_code == 201 and response.json()["won"]
            return response.status_code, bool(won)

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(claim, range(500)))

    codes = [code for code, _won in outcomes]
    # Entries made once the prize is gone are refused (409): never a 500 or "database locked".
    assert set(codes) <= {201, 409}, sorted(set(codes))
    assert sum(won for _code, won in outcomes) == 10
    results = httpx.get(f"{base}/api/v1/draws/{draw['id']}/results", headers=owner).json()
    assert results["entries"] == codes.count(201)
    assert len(results["winners"]) == 10
    assert [(p["stock"], p["won"]) for p in results["prizes"]] == [(0, 10)]
    assert len({w["participant_id"] for w in results["winners"]}) == 10
