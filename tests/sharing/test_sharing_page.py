"""The fission console page shows the analytics registry's figures: the same K-factor,
participants and cascade depth as the analytics API, for a tree grown through real links."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_auth import login
from tests.test_polls import live_campaign, vote_url
from tests.test_sharing import _get_link


def _campaign_id(client: TestClient, brand: Brand, poll_id: int) -> int:
    found: int = client.get(f"/api/v1/activities/{poll_id}", headers=brand.auth(Role.OWNER)).json()[
        "campaign_id"
    ]
    return found


def test_the_sharing_page_and_the_analytics_api_show_the_same_figures(
    client: TestClient, brand: Brand, clock: ManualClock
) -> None:
    slug, poll_id, options = live_campaign(client, brand)

    def take_part(person: TestClient, code: str | None = None) -> None:
        clock.advance(timedelta(minutes=5))
        if code is not None:
            person.get(f"/s/{code}?ch=wechat")
        voted = person.post(
            vote_url(slug, poll_id), json={"options": [options[0]], "consent": True}
        )
        assert voted.status_code == 201, voted.text

    # Ann shares; Ben comes through Ann's link and shares; Cai comes through Ben's; Dan on his own.
    ann, ben, cai, dan = (TestClient(client.app) for _ in range(4))
    take_part(ann)
    take_part(ben, _get_link(ann, slug))
    take_part(cai, _get_link(ben, slug))
    take_part(dan)
    took_part, brought, chain = 4, 2, 2  # Ben and Cai were brought; Ann -> Ben -> Cai
    # The K-factor counts people who have had the 3-day invitation window.
    young = client.get(
        f"/api/v1/campaigns/{_campaign_id(client, brand, poll_id)}/metrics",
        params={"metrics": "k_factor"},
        headers=brand.auth(Role.VIEWER),
    ).json()["metrics"]["k_factor"]
    assert young["value"] is None
    assert young["rows"][0]["eligible_participants"] == 0
    clock.advance(timedelta(days=3))

    campaign_id = _campaign_id(client, brand, poll_id)
    api = client.get(
        f"/api/v1/campaigns/{campaign_id}/metrics",
        params={"metrics": "participants,k_factor,cascade"},
        headers=brand.auth(Role.VIEWER),
    ).json()["metrics"]
    assert login(client, brand.emails[Role.ANALYST]) == 303
    page = client.get(f"/console/w/acme/campaigns/{campaign_id}/sharing").text

    assert api["participants"]["value"] == took_part
    # Each of the four had the window: Ann brought Ben, Ben brought Cai, Cai and Dan nobody.
    assert api["k_factor"]["value"] == brought / took_part
    k_row = api["k_factor"]["rows"][0]
    assert k_row["eligible_participants"] == took_part
    # Offspring 1, 1, 0, 0: mean 0.5, sample sd sqrt(1/3); 95 % normal interval, whose lower
    # end (below zero) is cut at 0: nobody brings fewer than no one.
    half = 1.96 * (1 / 3) ** 0.5 / 2
    assert k_row["ci_low"] == 0
    assert k_row["ci_high"] == pytest.approx(0.5 + half, abs=1e-3)
    assert f"95% 置信区间 {k_row['ci_low']:.2f} – {k_row['ci_high']:.2f}" in page
    assert "按加入满 3 天的 4 位参与者计算" in page
    assert api["cascade"]["rows"][0]["depth"] == chain
    assert f'<strong id="k-factor">{api["k_factor"]["value"]:.2f}<' in page
    assert f'<strong id="participants">{took_part}<' in page
    assert re.search(rf"邀请来的参与者</span><strong>{brought}<", page)
    assert re.search(rf"最长传播链</span><strong>{chain}<", page)
    assert 'id="share-tree"' in page
