"""One phone sending many entries to a contest at once, through a real server on loopback: the
per-participant limit holds in the database (a unique place number per entry), not only in a
count that two requests could both pass."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer


def test_simultaneous_entries_from_one_phone_stop_at_the_limit(
    live_server: LiveServer, brand: Brand
) -> None:
    owner = brand.auth(Role.OWNER)
    base = live_server.url
    campaign = live_server.live_campaign(brand, slug="photo-rush")
    contest = httpx.post(
        f"{base}/api/v1/campaigns/{campaign['id']}/ugcs",
        json={"title": "咖啡随手拍", "entries_per_participant": 3, "auto_approve": True},
        headers=owner,
    )
    assert contest.status_code == 201, contest.text
    url = f"{base}/api/v1/public/campaigns/photo-rush/ugcs/{contest.json()['id']}/entries"

    cookies = live_server.phone_cookies("photo-rush")

    def send(index: int) -> int:
        with httpx.Client(timeout=60, cookies=cookies) as same_phone:
            data = {"caption": f"第 {index} 张：窗边的手冲", "consent": "true"}
            return same_phone.post(url, data=data).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(send, range(8)))

    assert sorted(codes) == [201] * 3 + [409] * 5, codes
    entries = httpx.get(f"{base}/api/v1/ugcs/{contest.json()['id']}/entries", headers=owner).json()
    assert sorted(e["caption"].split("：")[0] for e in entries) == sorted(
        f"第 {i} 张" for i, code in enumerate(codes) if code == 201
    )


def test_simultaneous_votes_from_one_phone_stop_at_the_day_allowance(
    live_server: LiveServer, brand: Brand
) -> None:
    owner = brand.auth(Role.OWNER)
    base = live_server.url
    campaign = live_server.live_campaign(brand, slug="vote-rush")
    contest = httpx.post(
        f"{base}/api/v1/campaigns/{campaign['id']}/ugcs",
        json={
            "title": "咖啡随手拍",
            "entries_per_participant": 1,
            "votes_per_day": 3,
            "auto_approve": True,
        },
        headers=owner,
    ).json()
    public = f"{base}/api/v1/public/campaigns/vote-rush/ugcs/{contest['id']}"

    entry_ids = []
    for index in range(6):  # six photographers, one entry each
        with httpx.Client(timeout=60, cookies=live_server.phone_cookies("vote-rush")) as author:
            sent = author.post(
                f"{public}/entries", data={"caption": f"作品 {index}", "consent": "true"}
            )
            assert sent.status_code == 201, sent.text
            entry_ids.append(sent.json()["entry"]["id"])
    voter = live_server.phone_cookies("vote-rush")

    def vote(entry_id: int) -> httpx.Response:
        with httpx.Client(timeout=60, cookies=voter) as same_phone:
            return same_phone.post(f"{public}/entries/{entry_id}/votes", json={"consent": True})

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(vote, entry_ids))

    codes = [a.status_code for a in answers]
    assert sorted(codes) == [201] * 3 + [409] * 3, [a.text for a in answers]
    for refused in (a for a in answers if a.status_code == 409):
        assert "all 3 votes" in refused.json()["error"]["message"]
    entries = httpx.get(f"{base}/api/v1/ugcs/{contest['id']}/entries", headers=owner).json()
    assert sum(e["votes"] for e in entries) == 3
