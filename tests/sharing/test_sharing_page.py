"""The fission console page shows the analytics registry's figures: the same K-factor,
participants and cascade depth as the analytics API, for a tree grown through real links."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_auth import login
from tests.test_polls import live_campaign, vote_url
from tests.test_sharing import _get_link


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

    campaign_id = client.get(
        f"/api/v1/activities/{poll_id}", headers=brand.auth(Role.OWNER)
    ).json()["campaign_id"]
    api = client.get(
        f"/api/v1/campaigns/{campaign_id}/metrics",
        params={"metrics": "participants,k_factor,cascade"},
        headers=brand.auth(Role.VIEWER),
    ).json()["metrics"]
    assert login(client, brand.emails[Role.ANALYST]) == 303
    page = client.get(f"/console/w/acme/campaigns/{campaign_id}/sharing").text

    assert api["participants"]["value"] == took_part
    assert api["k_factor"]["value"] == brought / took_part
    assert api["cascade"]["rows"][0]["depth"] == chain
    assert f'<strong id="k-factor">{api["k_factor"]["value"]:.2f}<' in page
    assert f'<strong id="participants">{took_part}<' in page
    assert re.search(rf"邀请来的参与者</span><strong>{brought}<", page)
    assert re.search(rf"最长传播链</span><strong>{chain}<", page)
    assert 'id="share-tree"' in page
