"""A participant who hits an error stays among the campaign's pages: the public frame, words
for participants, a way back to the campaign when there is one, never the console."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import Brand
from tests.test_comments import _form
from tests.test_polls import live_campaign


def _back_link(page: str) -> str | None:
    found = re.search(r'<a class="button primary" href="([^"]+)">返回活动</a>', page)
    return found.group(1) if found else None


def _is_participant_page(page: str) -> bool:
    return 'class="public"' in page and "/console" not in page.replace("/console/lang/", "")


def test_a_blank_comment_leads_back_to_the_campaign(client: TestClient, brand: Brand) -> None:
    slug, poll_id, _options = live_campaign(client, brand)
    fields = _form(client, f"/c/{slug}/poll/{poll_id}", f"/c/{slug}/comments")
    refused = client.post(f"/c/{slug}/comments", data={**fields, "text": "   ", "consent": "yes"})
    assert refused.status_code == 422
    assert _is_participant_page(refused.text)
    assert "返回控制台" not in refused.text
    assert "没能完成" in refused.text
    assert _back_link(refused.text) == f"/c/{slug}"


def test_public_not_found_pages_are_for_participants(client: TestClient, brand: Brand) -> None:
    slug, _poll_id, _options = live_campaign(client, brand)
    inside = client.get(f"/c/{slug}/poll/999999")
    assert inside.status_code == 404
    assert _is_participant_page(inside.text)
    assert "页面不存在" in inside.text
    assert _back_link(inside.text) == f"/c/{slug}"
    for path in ("/c/no-such-campaign", "/c/no-such-campaign/share", "/s/nosuchcode1"):
        page = client.get(path)
        assert page.status_code == 404, path
        assert _is_participant_page(page.text), path
        assert "Back to the console" not in page.text
        assert "返回控制台" not in page.text
        assert _back_link(page.text) is None, path  # no campaign to go back to

    console = client.get("/console/w/acme/no-such-page")
    assert console.status_code == 404
    assert 'class="public"' not in console.text


def test_the_profile_form_keeps_what_was_typed(client: TestClient, brand: Brand) -> None:
    slug, _poll_id, _options = live_campaign(client, brand)
    page = f"/c/{slug}/me"
    nickname = _form(client, page, f"/c/{slug}/me/nickname")
    refused = client.post(
        f"/c/{slug}/me/nickname", data={**nickname, "nickname": "小" * 30, "consent": "yes"}
    )
    assert refused.status_code == 422
    assert 'id="nickname-error"' in refused.text
    assert f'value="{"小" * 30}"' in refused.text

    code = _form(client, page, f"/c/{slug}/me/code")
    refused = client.post(
        f"/c/{slug}/me/code",
        data={**code, "channel": "email", "destination": "xiaolin@", "consent": "yes"},
    )
    assert refused.status_code == 422
    assert 'id="destination-error"' in refused.text
    assert 'value="xiaolin@"' in refused.text


def test_a_blank_comment_says_what_is_missing(client: TestClient, brand: Brand) -> None:
    slug, poll_id, _options = live_campaign(client, brand)
    fields = _form(client, f"/c/{slug}/poll/{poll_id}", f"/c/{slug}/comments")
    refused = client.post(f"/c/{slug}/comments", data={**fields, "text": " \n ", "consent": "yes"})
    assert "请先写下你的评论。" in refused.text
