"""The demo workspace shows a real picture: every status, every role, Chinese content."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.db import Database
from im2.demo import DEMO_PASSWORD, DEMO_USERS, DEMO_WORKSPACE, load_demo
from tests.test_auth import login


def test_demo_has_campaigns_in_every_state(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    assert load_demo(db, now=clock.now())
    assert not load_demo(db, now=clock.now())
    owner = DEMO_USERS[0][0]
    assert login(client, owner, DEMO_PASSWORD) == 303
    page = client.get(f"/console/w/{DEMO_WORKSPACE}/campaigns?status=")
    for label in ("进行中", "已排期", "草稿", "已暂停", "已结束"):
        assert label in page.text, label
    archived = client.get(f"/console/w/{DEMO_WORKSPACE}/campaigns?status=archived")
    assert "年终回馈抽奖" in archived.text
    audit = client.get(f"/console/w/{DEMO_WORKSPACE}/audit?action=campaign.")
    # Status changes in the reader's words (状态：草稿 → 已排期), not the action's raw key.
    assert re.search(
        r"状态：(草稿|已排期|进行中|已暂停) → (已排期|进行中|已暂停|已结束)", audit.text
    )
    assert "campaign.status" not in re.sub(r"<[^>]+>", "", audit.text.split("<main", 1)[1])
    for email, _name, _role in DEMO_USERS[1:]:
        other = TestClient(client.app)
        assert login(other, email, DEMO_PASSWORD) == 303

    # The live campaign's poll, with its votes (one demo load serves both checks: it is slow).
    landing = client.get("/c/sakura-latte-feedback")
    assert "试喝之后，你最想把哪款带回家？" in landing.text
    # It speaks three languages: an English browser gets English pages, with a switcher.
    english = client.get("/c/sakura-latte-feedback", headers={"Accept-Language": "en-US"}).text
    assert '<html lang="en"' in english
    assert "繁體中文" in english  # the switcher
    assert "试喝之后，你最想把哪款带回家？" in english  # the brand's content, as written
    listed = client.get("/console/w/shanye-coffee/campaigns?status=live").text
    campaign_id = int(re.findall(r"/console/w/shanye-coffee/campaigns/(\d+)", listed)[0])
    activities = client.get(f"/console/w/shanye-coffee/campaigns/{campaign_id}/activities").text
    poll_id = int(re.findall(r"/console/w/shanye-coffee/poll/(\d+)", activities)[0])
    detail = client.get(f"/console/w/shanye-coffee/poll/{poll_id}").text
    assert "data-total>320<" in detail  # 320 demo voters, none held
