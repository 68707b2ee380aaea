"""A campaign's languages through the API (issue #22): stored, validated, edited, copied."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from im2.workspaces.schemas import Role
from tests.conftest import Brand, campaign_payload, go_live


def test_a_new_campaign_speaks_simplified_chinese(client: TestClient, brand: Brand) -> None:
    created = client.post(
        "/api/v1/campaigns", json=campaign_payload(), headers=brand.auth(Role.EDITOR)
    ).json()
    assert created["languages"] == ["zh-CN"]
    assert created["default_language"] == "zh-CN"


def test_languages_are_stored_edited_and_copied(client: TestClient, brand: Brand) -> None:
    auth = brand.auth(Role.OWNER)
    response = client.post(
        "/api/v1/campaigns",
        json=campaign_payload(languages=["en", "zh-TW", "en"], default_language="en"),
        headers=auth,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["languages"] == ["zh-TW", "en"]  # once each, in a fixed order
    assert created["default_language"] == "en"

    url = f"/api/v1/campaigns/{created['id']}"
    # Dropping the default's language alone is refused: the default must stay offered.
    refused = client.patch(url, json={"languages": ["zh-TW"]}, headers=auth)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "default_language"
    assert client.get(url, headers=auth).json()["languages"] == ["zh-TW", "en"]

    edited = client.patch(
        url, json={"languages": ["zh-CN", "zh-TW"], "default_language": "zh-TW"}, headers=auth
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["languages"] == ["zh-CN", "zh-TW"]
    assert edited.json()["default_language"] == "zh-TW"

    copy = client.post(f"{url}/duplicate", json={}, headers=auth).json()
    assert copy["languages"] == ["zh-CN", "zh-TW"]
    assert copy["default_language"] == "zh-TW"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"languages": ["fr"]}, "languages"),
        ({"languages": []}, "languages"),
        ({"default_language": "ja"}, "default_language"),
        ({"languages": ["zh-CN"], "default_language": "en"}, "default_language"),
    ],
)
def test_unknown_or_unoffered_languages_are_refused(
    client: TestClient, brand: Brand, overrides: dict[str, object], field: str
) -> None:
    response = client.post(
        "/api/v1/campaigns", json=campaign_payload(**overrides), headers=brand.auth(Role.OWNER)
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"].split(".")[0] == field
    assert error["message"]
    listed = client.get("/api/v1/campaigns", headers=brand.auth(Role.OWNER)).json()
    assert listed["items"] == []


def test_public_page_speaks_the_browser_language_within_the_campaign(
    client: TestClient, brand: Brand
) -> None:
    go_live(client, brand, slug="tri", languages=["zh-CN", "zh-TW", "en"])
    go_live(client, brand, slug="cn-only")

    def page(slug: str, accept: str, query: str = "") -> str:
        response = client.get(f"/c/{slug}{query}", headers={"Accept-Language": accept})
        assert response.status_code == 200, response.text
        return response.text

    assert '<html lang="en">' in page("tri", "en-US,en;q=0.9")
    assert "Accept-Language" in client.get("/c/tri").headers["vary"]
    traditional = page("tri", "zh-HK,zh;q=0.8")
    assert '<html lang="zh-TW">' in traditional
    assert "我同意：" in traditional  # Chinese punctuation in Traditional too
    assert '<html lang="zh-CN">' in page("tri", "fr-FR")  # none offered: the default
    # Only Simplified Chinese offered: an English browser still reads Chinese, no switcher.
    only = page("cn-only", "en-US,en;q=0.9")
    assert '<html lang="zh-CN">' in only
    assert 'class="lang-switch"' not in only

    # The switcher's choice beats the browser and is remembered for the next page.
    chosen = client.get("/c/tri?lang=zh-TW", headers={"Accept-Language": "en"})
    assert '<html lang="zh-TW">' in chosen.text
    assert 'class="lang-switch"' in chosen.text
    assert client.cookies.get("im2_plang") == "zh_TW"
    assert '<html lang="zh-TW">' in page("tri", "en")
    # ... but not on a campaign that does not offer it, and not in the console's choice.
    assert '<html lang="zh-CN">' in page("cn-only", "en")
    assert client.cookies.get("im2_lang") is None


def test_the_console_form_sets_the_languages(client: TestClient, brand: Brand) -> None:
    from tests.test_auth import login
    from tests.test_console import FORM, _post_form

    cid = client.post(
        "/api/v1/campaigns", json=campaign_payload(), headers=brand.auth(Role.OWNER)
    ).json()["id"]
    login(client, brand.emails[Role.EDITOR])
    url = f"/console/w/acme/campaigns/{cid}/edit"
    form = client.get(url).text
    assert "默认语言" in form
    assert 'name="lang_zh-CN" checked' in form
    shown = {**FORM, "slug": "spring-vote", "languages_shown": "1"}

    none = _post_form(client, url, shown)  # no language ticked
    assert none.status_code == 422
    assert 'id="languages-error"' in none.text
    unoffered = _post_form(client, url, {**shown, "lang_zh-TW": "on", "default_language": "en"})
    assert unoffered.status_code == 422
    assert "默认语言必须是活动提供的语言之一" in unoffered.text

    saved = _post_form(
        client, url, {**shown, "lang_zh-TW": "on", "lang_en": "on", "default_language": "en"}
    )
    assert saved.status_code == 303, saved.text
    read = client.get(f"/api/v1/campaigns/{cid}", headers=brand.auth(Role.OWNER)).json()
    assert (read["languages"], read["default_language"]) == (["zh-TW", "en"], "en")
    detail = client.get(saved.headers["location"]).text
    assert re.search(
        r'id="campaign-languages">繁体中文、英文</dd>\s*<dt>默认语言</dt><dd>英文', detail
    )
    # A post without the languages fieldset leaves them as they are.
    assert _post_form(client, url, {**FORM, "slug": "spring-vote"}).status_code == 303
    read = client.get(f"/api/v1/campaigns/{cid}", headers=brand.auth(Role.OWNER)).json()
    assert read["languages"] == ["zh-TW", "en"]


def test_odd_language_input_on_public_pages_is_harmless(client: TestClient, brand: Brand) -> None:
    go_live(client, brand, slug="odd", languages=["zh-CN", "en"])
    for query, header in [
        ("?lang=klingon", "en;q=abc, *;q=0.5"),
        ("?lang=", "zh-Hant-TW;q=1.5, ,;,"),
        ("?lang=en%00", "x" * 5000),
    ]:
        response = client.get(f"/c/odd{query}", headers={"Accept-Language": header})
        assert response.status_code == 200, (query, header)
        assert "im2_plang=" not in response.headers.get("set-cookie", "")
    missing = client.get("/c/no-such-campaign", headers={"Accept-Language": "en"})
    assert missing.status_code == 404
    assert '<html lang="en">' in missing.text
    assert 'class="lang-switch"' not in missing.text


def test_a_language_edit_shows_on_the_public_page_at_once(client: TestClient, brand: Brand) -> None:
    """The page's languages are remembered per process: the edit that changes them must not
    leave the page speaking the old ones (an English browser read Chinese for 10 s)."""
    campaign = go_live(client, brand, slug="grows")
    english = {"Accept-Language": "en-US,en;q=0.9"}
    assert '<html lang="zh-CN">' in client.get("/c/grows", headers=english).text
    edited = client.patch(
        f"/api/v1/campaigns/{campaign['id']}",
        json={"languages": ["zh-CN", "en"]},
        headers=brand.auth(Role.OWNER),
    )
    assert edited.status_code == 200, edited.text
    page = client.get("/c/grows", headers=english).text
    assert '<html lang="en">' in page
    assert 'class="lang-switch"' in page
