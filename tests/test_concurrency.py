"""Writes racing each other through a real server on loopback (threads, real connections)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer, campaign_payload


def _post_all(
    url: str, jobs: list[tuple[dict[str, str], dict[str, object]]]
) -> list[httpx.Response]:
    def post(job: tuple[dict[str, str], dict[str, object]]) -> httpx.Response:
        headers, body = job
        return httpx.post(url, json=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(post, jobs))


def _campaign_count(server: LiveServer, brand: Brand) -> int:
    r = httpx.get(f"{server.url}/api/v1/campaigns?limit=100", headers=brand.auth(Role.OWNER))
    return len(r.json()["items"])


def test_same_slug_at_once_gives_one_campaign_and_clean_conflicts(
    live_server: LiveServer, brand: Brand
) -> None:
    jobs = [(brand.auth(Role.OWNER), campaign_payload(name=f"race {i}")) for i in range(24)]
    responses = _post_all(f"{live_server.url}/api/v1/campaigns", jobs)
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1
    assert codes.count(409) == 23, codes  # never a 500 or a "database is locked"
    assert _campaign_count(live_server, brand) == 1


def test_same_idempotency_key_at_once_writes_once(live_server: LiveServer, brand: Brand) -> None:
    headers = {**brand.auth(Role.OWNER), "Idempotency-Key": "order-42"}
    responses = _post_all(
        f"{live_server.url}/api/v1/campaigns", [(headers, campaign_payload()) for _ in range(20)]
    )
    ok = [r for r in responses if r.status_code == 201]
    assert ok, [r.status_code for r in responses]
    assert {r.json()["id"] for r in ok} == {ok[0].json()["id"]}
    assert all(r.status_code in (201, 409) for r in responses)
    assert _campaign_count(live_server, brand) == 1


def test_many_distinct_writes_all_land(live_server: LiveServer, brand: Brand) -> None:
    jobs = [(brand.auth(Role.EDITOR), campaign_payload(slug=f"c-{i}")) for i in range(40)]
    responses = _post_all(f"{live_server.url}/api/v1/campaigns", jobs)
    assert [r.status_code for r in responses] == [201] * 40
    assert _campaign_count(live_server, brand) == 40


def test_hundred_people_voting_twice_at_once_count_once_each(
    live_server: LiveServer, brand: Brand
) -> None:
    from tests.test_polls import POLL

    owner = brand.auth(Role.OWNER)
    base = live_server.url
    campaign = httpx.post(
        f"{base}/api/v1/campaigns",
        json=campaign_payload(starts_at="2026-03-01T10:00"),
        headers=owner,
    ).json()
    for status in ("scheduled", "live"):
        httpx.post(
            f"{base}/api/v1/campaigns/{campaign['id']}/transitions",
            json={"status": status},
            headers=owner,
        ).raise_for_status()
    poll = httpx.post(
        f"{base}/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=owner
    ).json()
    options = [
        o["id"]
        for o in httpx.get(f"{base}/api/v1/polls/{poll['id']}/results", headers=owner).json()[
            "options"
        ]
    ]
    url = f"{base}/api/v1/public/campaigns/{campaign['slug']}/polls/{poll['id']}/votes"

    # 100 phones: each gets its device cookie from the public page, then votes twice at once.
    phones = []
    for _ in range(100):
        phone = httpx.Client(timeout=30)
        phone.get(f"{base}/c/{campaign['slug']}").raise_for_status()
        phones.append(phone)

    def vote(job: tuple[int, int]) -> int:
        index, attempt = job
        body = {"options": [options[(index + attempt) % 3]], "consent": True}
        return phones[index].post(url, json=body).status_code

    jobs = [(i, attempt) for i in range(100) for attempt in range(2)]
    with ThreadPoolExecutor(max_workers=32) as pool:
        codes = list(pool.map(vote, jobs))
    for phone in phones:
        phone.close()
    assert codes.count(201) == 100, sorted(set(codes))
    assert codes.count(409) == 100
    results = httpx.get(f"{base}/api/v1/polls/{poll['id']}/results", headers=owner).json()
    assert results["ballots"] == 100
    assert results["voters"] == 100
    assert sum(o["votes"] for o in results["options"]) == 100
