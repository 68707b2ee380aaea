"""Done when: the console shows the KOL table and a seed recommendation for a demo campaign."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.db import Database
from im2.demo import DEMO_PASSWORD, DEMO_USERS, DEMO_WORKSPACE, load_demo


def test_demo_fission_campaign_has_kols_and_seed_advice(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    assert load_demo(db, now=clock.now())
    page = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    login = client.post(
        "/console/login",
        data={"email": DEMO_USERS[0][0], "password": DEMO_PASSWORD, "csrf_token": token[1]},
        follow_redirects=False,
    )
    assert login.status_code == 303
    # The main menu leads there from any console page.
    menu = client.get(f"/console/w/{DEMO_WORKSPACE}/campaigns").text
    assert f'href="/console/w/{DEMO_WORKSPACE}/influence"' in menu
    overview = client.get(f"/console/w/{DEMO_WORKSPACE}/influence")
    assert 'aria-current="page">影响力<' in overview.text
    assert overview.status_code == 200
    links = re.findall(rf"/console/w/{DEMO_WORKSPACE}/campaigns/(\d+)/influence", overview.text)
    assert links
    # The fission campaign is the one whose KOLs brought people in.
    for campaign_id in links:
        url = f"/console/w/{DEMO_WORKSPACE}/campaigns/{campaign_id}/influence"
        page = client.get(url)
        assert page.status_code == 200
        if "reason-spread" in page.text:
            break
    else:
        raise AssertionError("no demo campaign shows KOLs with an observed spread")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    result = client.post(
        url,
        data={
            "csrf_token": token[1],
            "k": "5",
            "model": "ic",
            "epsilon": "0.2",
            "probability": "learned",
            "constant": "0.05",
            "steps": "8",
            "own_pick": "",
        },
    )
    assert result.status_code == 200
    assert 'id="seed-table"' in result.text
    assert 'id="forecast-chart"' in result.text
