"""Comments and likes on public pages, with the brand's moderation queue."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_auth import login
from tests.test_polls import live_campaign


def _form(client: TestClient, page: str, action: str) -> dict[str, str]:
    html = client.get(page).text
    for form in re.findall(r"<form\b.*?</form>", html, flags=re.S):
        if f'action="{action}"' in form:
            return dict(
                re.findall(r'name="(csrf_token|target_type|target_id|back)" value="([^"]*)"', form)
            )
    raise AssertionError(f"no form for {action} on {page}")


def test_comment_like_and_moderate(client: TestClient, brand: Brand) -> None:
    slug, poll_id, _options = live_campaign(client, brand)
    page = f"/c/{slug}/poll/{poll_id}"
    fields = _form(client, page, f"/c/{slug}/comments")
    assert fields["target_type"] == "activity"

    no_consent = client.post(f"/c/{slug}/comments", data={**fields, "text": "樱花拿铁好喝！"})
    assert no_consent.status_code == 422
    posted = client.post(
        f"/c/{slug}/comments",
        data={**fields, "text": "樱花拿铁好喝！", "consent": "yes"},
        follow_redirects=False,
    )
    assert posted.status_code == 303
    assert "樱花拿铁好喝！" in client.get(page).text

    spam = client.post(
        f"/c/{slug}/comments",
        data={**fields, "text": "便宜代购，加微信 abc123"},
        follow_redirects=False,
    )
    assert spam.headers["location"].endswith("comment=pending")
    assert "便宜代购" not in client.get(page).text  # held until the brand decides

    likes = _form(client, page, f"/c/{slug}/likes")
    assert client.post(f"/c/{slug}/likes", data=likes, follow_redirects=False).status_code == 303
    assert "♡ 1" in client.get(page).text
    twice = client.post(f"/c/{slug}/likes", data=likes)
    assert twice.status_code == 409
    assert "♡ 1" in client.get(page).text

    empty = client.post(f"/c/{slug}/comments", data={**fields, "text": "   "})
    assert empty.status_code == 422
    long = client.post(f"/c/{slug}/comments", data={**fields, "text": "长" * 501})
    assert long.status_code == 422

    campaign_id = client.get(
        f"/api/v1/activities/{poll_id}", headers=brand.auth(Role.OWNER)
    ).json()["campaign_id"]
    moderator = TestClient(client.app)
    login(moderator, brand.emails[Role.EDITOR])
    queue = moderator.get(f"/console/w/acme/campaigns/{campaign_id}/comments").text
    assert "便宜代购" in queue
    assert "樱花拿铁好喝" not in queue
    comment_id = re.search(r'/console/w/acme/comments/(\d+)"', queue).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', queue).group(1)
    moderator.post(
        f"/console/w/acme/comments/{comment_id}", data={"csrf_token": token, "status": "visible"}
    )
    assert "便宜代购" in client.get(page).text

    analyst = TestClient(client.app)
    login(analyst, brand.emails[Role.ANALYST])
    assert (
        analyst.post(
            f"/console/w/acme/comments/{comment_id}",
            data={
                "csrf_token": re.search(
                    r'name="csrf_token" value="([^"]+)"',
                    analyst.get(f"/console/w/acme/campaigns/{campaign_id}/comments").text,
                ).group(1),
                "status": "hidden",
            },
        ).status_code
        == 403
    )


def test_back_link_cannot_leave_the_campaign(client: TestClient, brand: Brand) -> None:
    slug, _poll_id, _options = live_campaign(client, brand)
    fields = _form(client, f"/c/{slug}", f"/c/{slug}/comments")
    assert fields["target_type"] == "campaign"
    posted = client.post(
        f"/c/{slug}/comments",
        data={**fields, "back": "https://evil.example/", "text": "你好", "consent": "yes"},
        follow_redirects=False,
    )
    assert posted.headers["location"].startswith(f"/c/{slug}?")
