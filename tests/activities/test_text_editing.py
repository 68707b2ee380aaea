"""A typo in a poll, Q&A or contest title can be fixed after people took part: the console's
Edit page changes the title and description (what participants see), not their answers."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from im2.workspaces.schemas import Role
from tests.activities.test_qa import make_qa
from tests.activities.test_ugc import SLUG as UGC_SLUG
from tests.activities.test_ugc import make_contest
from tests.conftest import Brand
from tests.test_auth import login
from tests.test_polls import live_campaign, vote_url


def _csrf(client: TestClient, url: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).text)
    assert found
    return found.group(1)


@pytest.mark.parametrize("kind", ["poll", "qa", "ugc"])
def test_the_title_and_description_can_be_corrected(
    client: TestClient, brand: Brand, kind: str
) -> None:
    if kind == "poll":
        slug, activity_id, options = live_campaign(client, brand)
        voted = client.post(
            vote_url(slug, activity_id), json={"options": [options[0]], "consent": True}
        )
        assert voted.status_code == 201
    elif kind == "qa":
        slug, _campaign, activity_id = make_qa(client, brand)
    else:
        _campaign, activity_id = make_contest(client, brand)
        slug = UGC_SLUG
    public = f"/c/{slug}/{kind}/{activity_id}"
    detail = f"/console/w/acme/{kind}/{activity_id}"
    edit = f"{detail}/edit"

    login(client, brand.emails[Role.EDITOR])
    assert f'href="{edit}"' in client.get(detail).text
    token = _csrf(client, edit)
    blank = client.post(edit, data={"csrf_token": token, "title": "  "})
    assert blank.status_code == 422
    assert 'id="title-error"' in blank.text

    saved = client.post(
        edit,
        data={"csrf_token": token, "title": "春季新品投票（修正）", "description": "说明已更新"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    shown = TestClient(client.app).get(public).text
    assert "春季新品投票（修正）" in shown
    assert "说明已更新" in shown
    if kind == "poll":  # the vote is still counted
        results = client.get(
            f"/api/v1/polls/{activity_id}/results", headers=brand.auth(Role.OWNER)
        ).json()
        assert results["voters"] == 1

    login(client, brand.emails[Role.ANALYST])
    assert f'href="{edit}"' not in client.get(detail).text
    assert client.get(edit).status_code == 403
