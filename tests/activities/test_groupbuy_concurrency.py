"""Joins racing for the last places of a team, through a real server on loopback."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from im2.workspaces.schemas import Role
from tests.activities.test_groupbuy import OFFER
from tests.conftest import Brand, LiveServer


def test_ten_joins_at_once_never_overfill_a_three_person_team(
    live_server: LiveServer, brand: Brand
) -> None:
    owner = brand.auth(Role.OWNER)
    base = live_server.url
    campaign = live_server.live_campaign(brand)
    offer = httpx.post(
        f"{base}/api/v1/campaigns/{campaign['id']}/groupbuys", json=OFFER, headers=owner
    ).json()
    public = f"{base}/api/v1/public/campaigns/{campaign['slug']}/groupbuys/{offer['id']}"
    with httpx.Client(timeout=30) as leader:
        leader.get(f"{base}/c/{campaign['slug']}").raise_for_status()
        code = leader.post(f"{public}/teams", json={"consent": True}).json()["code"]

    phones = []
    for _ in range(10):
        phone = httpx.Client(timeout=30)
        phone.get(f"{base}/c/{campaign['slug']}").raise_for_status()
        phones.append(phone)

    def join(index: int) -> int:
        return (
            phones[index].post(f"{public}/teams/{code}/members", json={"consent": True}).status_code
        )

    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(pool.map(join, range(10)))
    for phone in phones:
        phone.close()

    assert sorted(codes) == [201, 201] + [409] * 8, codes
    seen = httpx.get(f"{base}/api/v1/groupbuys/{offer['id']}/teams", headers=owner).json()
    assert [(r["members"], r["status"]) for r in seen["rows"]] == [(3, "succeeded")]
    assert seen["members"] == 3
