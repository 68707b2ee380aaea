"""Live results: a vote reaches every open results stream without a reload."""

from __future__ import annotations

import json
import threading

import httpx

from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer
from tests.test_polls import POLL


def _read_events(
    url: str, cookies: httpx.Cookies, found: list[dict], want: int, ready: threading.Event
) -> None:
    with httpx.stream("GET", url, cookies=cookies, timeout=20) as response:
        ready.set()
        for line in response.iter_lines():
            if line.startswith("data:"):
                found.append(json.loads(line[5:].strip()))
                if len(found) >= want:
                    return


def test_a_vote_reaches_open_streams(live_server: LiveServer, brand: Brand) -> None:
    base, owner = live_server.url, brand.auth(Role.OWNER)
    campaign = live_server.live_campaign(brand)
    poll = httpx.post(
        f"{base}/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=owner
    ).json()
    options = [
        o["id"]
        for o in httpx.get(f"{base}/api/v1/polls/{poll['id']}/results", headers=owner).json()[
            "options"
        ]
    ]

    watchers = []
    for _ in range(3):
        viewer = httpx.Client()
        viewer.get(f"{base}/c/{campaign['slug']}")
        found: list[dict] = []
        ready = threading.Event()
        thread = threading.Thread(
            target=_read_events,
            args=(
                f"{base}/live/c/{campaign['slug']}/poll/{poll['id']}",
                viewer.cookies,
                found,
                2,
                ready,
            ),
            daemon=True,
        )
        thread.start()
        assert ready.wait(10)
        watchers.append((thread, found, viewer))

    voter = httpx.Client()
    voter.get(f"{base}/c/{campaign['slug']}")
    url = f"{base}/api/v1/public/campaigns/{campaign['slug']}/polls/{poll['id']}/votes"
    assert voter.post(url, json={"options": [options[1]], "consent": True}).status_code == 201

    for thread, found, viewer in watchers:
        thread.join(timeout=10)
        viewer.close()
        assert [o["votes"] for o in found[0]["options"]] == [0, 0, 0]  # the state on connect
        assert [o["votes"] for o in found[-1]["options"]] == [0, 1, 0]  # pushed after the vote
    voter.close()
