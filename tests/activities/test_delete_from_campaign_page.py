"""The campaign's console page lists its activities each with a 删除 link (issue #18), which
leads to the same confirm step as the activity's own page: it deletes an activity nobody took
part in, and explains why one with people's data stays. Only those who may change campaigns
see the link."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from im2.workspaces.schemas import Role
from tests.activities.test_delete_activity import POLL, _draft_with_poll
from tests.conftest import Brand
from tests.test_auth import login
from tests.test_console import form_token
from tests.test_polls import POLL as LIVE_POLL
from tests.test_polls import live_campaign, vote_url

HTMX = {"hx-request": "true"}


def _delete_links(page: str) -> dict[str, str]:
    """The list's 删除 links: the activity each names (its hidden title) -> where it leads."""
    found = re.findall(
        r'<a[^>]* href="([^"]+/delete)">删除<span class="sr-only"> ([^<]+)</span></a>', page
    )
    return {title: href for href, title in found}


def test_an_activity_is_deleted_from_the_campaigns_list(client: TestClient, brand: Brand) -> None:
    campaign, poll_id = _draft_with_poll(client, brand)
    assert login(client, brand.emails[Role.EDITOR]) == 303
    listing = f"/console/w/acme/campaigns/{campaign['id']}/activities"
    # The campaign page loads its list as a fragment; the list is a page of its own too.
    for page in (client.get(listing, headers=HTMX).text, client.get(listing).text):
        assert _delete_links(page) == {POLL["title"]: f"/console/w/acme/poll/{poll_id}/delete"}
        assert "<th>操作</th>" in page

    confirm = client.get(_delete_links(client.get(listing).text)[POLL["title"]])
    assert confirm.status_code == 200
    assert "删除这个互动？" in confirm.text
    url = f"/console/w/acme/poll/{poll_id}/delete"
    done = client.post(
        url, data={"csrf_token": form_token(client, url, url)}, follow_redirects=False
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/w/acme/campaigns/{campaign['id']}"
    after = client.get(listing, headers=HTMX).text
    assert _delete_links(after) == {}
    assert POLL["title"] not in after


def test_an_activity_with_votes_is_explained_not_deleted(client: TestClient, brand: Brand) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    voted = client.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    assert voted.status_code == 201, voted.text
    activity = client.get(f"/api/v1/activities/{poll_id}", headers=brand.auth(Role.OWNER)).json()
    assert login(client, brand.emails[Role.OWNER]) == 303
    listing = f"/console/w/acme/campaigns/{activity['campaign_id']}/activities"
    link = _delete_links(client.get(listing, headers=HTMX).text)[LIVE_POLL["title"]]
    refused = client.get(link)
    assert refused.status_code == 200
    assert "这个互动不能删除" in refused.text
    assert "已经有人参与" in refused.text
    assert "删除互动" not in refused.text  # no button that would fail
    assert LIVE_POLL["title"] in client.get(listing, headers=HTMX).text


def test_a_viewer_sees_no_delete_link(client: TestClient, brand: Brand) -> None:
    campaign, _poll_id = _draft_with_poll(client, brand)
    assert login(client, brand.emails[Role.VIEWER]) == 303
    page = client.get(f"/console/w/acme/campaigns/{campaign['id']}/activities", headers=HTMX)
    assert page.status_code == 200
    assert POLL["title"] in page.text
    assert _delete_links(page.text) == {}
    assert "/delete" not in page.text
    assert "<th>操作</th>" not in page.text
