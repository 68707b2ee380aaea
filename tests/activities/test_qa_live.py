"""Live Q&A against a running server: racing upvotes from one phone count once, and an
approved question reaches an open presenter stream without a reload."""

from __future__ import annotations

import json
import threading

import httpx

from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer


def _live_qa(server: LiveServer, brand: Brand, *, premoderation: bool) -> tuple[str, int]:
    base, owner = server.url, brand.auth(Role.OWNER)
    campaign = server.live_campaign(brand, slug="qa-stage")
    qa = httpx.post(
        f"{base}/api/v1/campaigns/{campaign['id']}/qas",
        json={"title": "门店开放日问答", "premoderation": premoderation},
        headers=owner,
    ).json()
    return campaign["slug"], int(qa["id"])


def test_racing_upvotes_from_one_phone_count_once(live_server: LiveServer, brand: Brand) -> None:
    base = live_server.url
    slug, qa = _live_qa(live_server, brand, premoderation=False)
    questions = f"{base}/api/v1/public/campaigns/{slug}/qas/{qa}/questions"
    with httpx.Client() as asker, httpx.Client() as phone:
        asker.get(f"{base}/c/{slug}")
        question = asker.post(questions, json={"text": "有停车位吗？", "consent": True}).json()
        phone.get(f"{base}/c/{slug}")
        upvote = f"{questions}/{question['question']['id']}/upvotes"
        start = threading.Barrier(8)
        codes: list[int] = []

        def press() -> None:
            start.wait()
            codes.append(phone.post(upvote, json={"consent": True}, timeout=20).status_code)

        threads = [threading.Thread(target=press) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        board = phone.get(questions).json()
    assert sorted(codes) == [201] + [409] * 7
    assert board["questions"][0]["upvotes"] == 1


def _read(url: str, found: list[dict], ready: threading.Event, until: str) -> None:
    with httpx.stream("GET", url, timeout=20) as response:
        ready.set()
        for line in response.iter_lines():
            if line.startswith("data:"):
                found.append(json.loads(line[5:].strip()))
                if any(q["text"] == until for q in found[-1]["questions"]):
                    return


def test_an_approved_question_reaches_the_presenter(live_server: LiveServer, brand: Brand) -> None:
    base = live_server.url
    slug, qa = _live_qa(live_server, brand, premoderation=True)
    found: list[dict] = []
    ready = threading.Event()
    reader = threading.Thread(
        target=_read,
        args=(f"{base}/live/c/{slug}/qa/{qa}", found, ready, "新品什么时候上架？"),
        daemon=True,
    )
    reader.start()
    assert ready.wait(10)

    with httpx.Client() as phone:
        phone.get(f"{base}/c/{slug}")
        asked = phone.post(
            f"{base}/api/v1/public/campaigns/{slug}/qas/{qa}/questions",
            json={"text": "新品什么时候上架？", "nickname": "常客", "consent": True},
        ).json()
    assert asked["visible"] is False
    approved = httpx.post(
        f"{base}/api/v1/qas/{qa}/questions/{asked['question']['id']}/moderation",
        json={"action": "approve"},
        headers=brand.auth(Role.EDITOR),
    )
    assert approved.status_code == 200
    reader.join(timeout=15)
    assert found[0]["questions"] == []  # the board on connect: nothing approved yet
    assert [(q["text"], q["nickname"]) for q in found[-1]["questions"]] == [
        ("新品什么时候上架？", "常客")
    ]
    assert all(q["status"] == "approved" for q in found[-1]["questions"])
