"""UGC contests against a running server: racing votes from one phone count once, and an
approved entry reaches an open gallery stream."""

from __future__ import annotations

import json
import threading

import httpx

from im2.workspaces.schemas import Role
from tests.activities.test_ugc import photo
from tests.activities.test_ugc import settings as settings  # uploads in the test's folder
from tests.conftest import Brand, LiveServer


def _live_contest(server: LiveServer, brand: Brand) -> tuple[str, int]:
    base, owner = server.url, brand.auth(Role.OWNER)
    campaign = server.live_campaign(brand, slug="ugc-live")
    contest = httpx.post(
        f"{base}/api/v1/campaigns/{campaign['id']}/ugcs",
        json={"title": "春日摄影大赛", "votes_per_day": 5},
        headers=owner,
    ).json()
    return campaign["slug"], int(contest["id"])


def _read(url: str, found: list[dict], ready: threading.Event) -> None:
    with httpx.stream("GET", url, timeout=20) as response:
        ready.set()
        for line in response.iter_lines():
            if line.startswith("data:"):
                found.append(json.loads(line[5:].strip()))
                if found[-1]["approved"]:
                    return


def test_racing_votes_and_a_live_gallery(live_server: LiveServer, brand: Brand) -> None:
    base = live_server.url
    slug, contest = _live_contest(live_server, brand)
    entries = f"{base}/api/v1/public/campaigns/{slug}/ugcs/{contest}/entries"
    found: list[dict] = []
    ready = threading.Event()
    reader = threading.Thread(
        target=_read, args=(f"{base}/live/c/{slug}/ugc/{contest}", found, ready), daemon=True
    )
    reader.start()
    assert ready.wait(10)

    with httpx.Client() as author:
        author.get(f"{base}/c/{slug}")
        sent = author.post(
            entries,
            data={"caption": "湖边的樱花", "consent": "true"},
            files={"image": ("lake.webp", photo("WEBP"), "image/webp")},
        )
    assert sent.status_code == 201, sent.text
    entry = sent.json()["entry"]
    approved = httpx.post(
        f"{base}/api/v1/ugcs/{contest}/entries/{entry['id']}/moderation",
        json={"approve": True},
        headers=brand.auth(Role.EDITOR),
    )
    assert approved.status_code == 200
    reader.join(timeout=15)
    assert found[0]["approved"] == []  # the gallery on connect
    assert [e["id"] for e in found[-1]["approved"]] == [entry["id"]]
    assert "pending" not in found[-1]  # the queue's length is not the public's business

    with httpx.Client() as phone:
        phone.get(f"{base}/c/{slug}")
        # The phone joins (with consent) by sending an entry of its own, then races its votes.
        joined = phone.post(entries, data={"caption": "我也来凑个热闹", "consent": "true"})
        assert joined.status_code == 201
        start = threading.Barrier(6)
        codes: list[int] = []

        def press() -> None:
            start.wait()
            codes.append(phone.post(f"{entries}/{entry['id']}/votes", json={}).status_code)

        threads = [threading.Thread(target=press) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        gallery = phone.get(entries).json()
    assert sorted(codes) == [201] + [409] * 5  # one vote per entry a day, however fast
    assert [e["votes"] for e in gallery] == [1]
    served = httpx.get(f"{base}{entry['image_url']}")
    assert served.headers["content-type"] == "image/webp"
