"""At once, on a real server: one origin added by many requests is one row; one widget token
voting from many requests is one vote."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer
from tests.test_polls import POLL


def _post_all(url: str, jobs: list[tuple[dict[str, str], object]]) -> list[httpx.Response]:
    def post(job: tuple[dict[str, str], object]) -> httpx.Response:
        return httpx.post(url, json=job[1], headers=job[0], timeout=60)

    with ThreadPoolExecutor(max_workers=12) as pool:
        return list(pool.map(post, jobs))


def test_one_origin_added_at_once_is_one_row(live_server: LiveServer, brand: Brand) -> None:
    owner = brand.auth(Role.OWNER)
    url = f"{live_server.url}/api/v1/embed/origins"
    answers = _post_all(url, [(owner, {"origin": "https://shop.example.com"})] * 12)
    assert sorted({a.status_code for a in answers}) == [201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert [o["origin"] for o in httpx.get(url, headers=owner).json()] == [
        "https://shop.example.com"
    ]


def test_one_token_voting_at_once_counts_once(live_server: LiveServer, brand: Brand) -> None:
    owner = brand.auth(Role.OWNER)
    campaign = live_server.live_campaign(brand)
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        poll = http.post(
            f"/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=owner
        ).json()
        token = http.post(f"/api/v1/public/campaigns/{campaign['slug']}/tokens").json()["token"]
        results = http.get(f"/api/v1/polls/{poll['id']}/results", headers=owner).json()
    option = results["options"][0]["id"]
    url = f"{live_server.url}/api/v1/public/campaigns/{campaign['slug']}/polls/{poll['id']}/votes"
    answers = _post_all(
        url, [({"X-IM2-Token": token}, {"options": [option], "consent": True})] * 12
    )
    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == 1, codes
    assert set(codes) <= {201, 409, 429}, codes
    results = httpx.get(
        f"{live_server.url}/api/v1/polls/{poll['id']}/results", headers=owner
    ).json()
    assert results["voters"] == 1
