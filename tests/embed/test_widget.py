"""The embed page and the widget's token identity: framing allowed on the embed page only,
for the workspace's sites only; a vote with a token counts once per token."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from im2.embed.tokens import issue_token
from im2.workspaces.schemas import Role
from tests.activities.test_quiz import add_quiz, public
from tests.activities.test_quiz import live_campaign as quiz_campaign
from tests.conftest import Brand, make_brand
from tests.test_polls import live_campaign

ORIGINS = "/api/v1/embed/origins"


def _csp(answer: object) -> str:
    return str(answer.headers.get("content-security-policy", ""))  # type: ignore[attr-defined]


def _frame_ancestors(answer: object) -> str:
    match = re.search(r"frame-ancestors ([^;]*)", _csp(answer))
    assert match, _csp(answer)
    return match.group(1)


def _data(page: object, name: str) -> str:
    match = re.search(rf'data-{name}="([^"]*)"', str(page.text))  # type: ignore[attr-defined]
    assert match
    return match.group(1)


def _token(client: TestClient, slug: str) -> str:
    issued = client.post(f"/api/v1/public/campaigns/{slug}/tokens")
    assert issued.status_code == 201, issued.text
    return str(issued.json()["token"])


def _fresh_client(client: TestClient) -> TestClient:
    """A client with no cookies, as an app or a mini-program calls the API."""
    client.cookies.clear()
    return client


def test_only_the_embed_page_may_be_framed_and_only_by_allowed_sites(
    client: TestClient, brand: Brand
) -> None:
    slug, activity_id, _ = live_campaign(client, brand)
    embed = f"/e/{slug}/{activity_id}"

    # Nothing allowed yet: the embed page is as unframeable as the rest.
    page = client.get(embed)
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"
    assert _frame_ancestors(page) == "'none'"

    owner = brand.auth(Role.OWNER)
    for origin in ("http://127.0.0.2:5173", "https://*.shop.example.com"):
        client.post(ORIGINS, json={"origin": origin}, headers=owner).raise_for_status()
    page = client.get(embed)
    assert "x-frame-options" not in page.headers
    assert _frame_ancestors(page) == "http://127.0.0.2:5173 https://*.shop.example.com"
    assert "你最想喝哪款春季新品？" in page.text
    # Every load hands out a new identity: no cache may keep one for everybody.
    assert page.headers["cache-control"] == "no-store"
    assert _data(page, "token") != _data(client.get(embed), "token")

    # Everything else keeps DENY: the activity's own page, the campaign, the console, the API,
    # and an embed address that does not exist.
    for path in (
        f"/c/{slug}",
        f"/c/{slug}/poll/{activity_id}",
        "/console/login",
        f"/api/v1/public/campaigns/{slug}/activities/{activity_id}",
        f"/e/{slug}/999999",
        "/e/no-such-campaign/1",
    ):
        answer = client.get(path)
        assert answer.headers["x-frame-options"] == "DENY", path
        if answer.headers.get("content-type", "").startswith("text/html"):
            assert _frame_ancestors(answer) == "'none'", path


def test_another_workspaces_sites_may_not_frame_this_one(client: TestClient, brand: Brand) -> None:
    other = make_brand(client.app.state.db, slug="rival", now=client.app.state.clock.now())  # type: ignore[attr-defined]
    client.post(
        ORIGINS, json={"origin": "https://rival.example.com"}, headers=other.auth(Role.OWNER)
    ).raise_for_status()
    slug, activity_id, _ = live_campaign(client, brand)
    page = client.get(f"/e/{slug}/{activity_id}")
    assert "rival.example.com" not in _csp(page)
    assert page.headers["x-frame-options"] == "DENY"


def test_the_page_posts_its_height_only_to_an_allowed_parent(
    client: TestClient, brand: Brand
) -> None:
    slug, activity_id, _ = live_campaign(client, brand)
    client.post(
        ORIGINS, json={"origin": "https://shop.example.com"}, headers=brand.auth(Role.OWNER)
    ).raise_for_status()
    allowed = client.get(f"/e/{slug}/{activity_id}?origin=https://shop.example.com&frame=f1")
    assert 'data-parent-origin="https://shop.example.com"' in allowed.text
    by_referer = client.get(
        f"/e/{slug}/{activity_id}", headers={"Referer": "https://shop.example.com/blog/post"}
    )
    assert 'data-parent-origin="https://shop.example.com"' in by_referer.text
    other = client.get(f"/e/{slug}/{activity_id}?origin=https://evil.example.com")
    assert 'data-parent-origin=""' in other.text


def test_a_vote_with_a_token_counts_once_per_token(client: TestClient, brand: Brand) -> None:
    slug, activity_id, options = live_campaign(client, brand)
    app = _fresh_client(client)
    vote_url = f"/api/v1/public/campaigns/{slug}/polls/{activity_id}/votes"
    read_url = f"/api/v1/public/campaigns/{slug}/activities/{activity_id}"
    first, second = _token(app, slug), _token(app, slug)
    assert first != second

    seen = app.get(read_url, headers={"X-IM2-Token": first}).json()
    assert seen["needs_consent"] is True
    assert [o["id"] for o in seen["poll"]["options"]] == options
    assert seen["poll"]["voted"] is False

    # No consent on a first vote: refused, naming the field.
    refused = app.post(vote_url, json={"options": [options[0]]}, headers={"X-IM2-Token": first})
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "consent"

    voted = app.post(
        vote_url, json={"options": [options[0]], "consent": True}, headers={"X-IM2-Token": first}
    )
    assert voted.status_code == 201, voted.text
    assert "set-cookie" not in voted.headers  # the token is the identity, not a new cookie
    again = app.post(
        vote_url, json={"options": [options[1]], "consent": True}, headers={"X-IM2-Token": first}
    )
    assert again.status_code == 409
    other = app.post(
        vote_url, json={"options": [options[1]], "consent": True}, headers={"X-IM2-Token": second}
    )
    assert other.status_code == 201

    mine = app.get(read_url, headers={"X-IM2-Token": first}).json()
    assert mine["poll"]["voted"] is True
    assert mine["poll"]["my_choices"] == [options[0]]
    assert mine["needs_consent"] is False
    results = client.get(
        f"/api/v1/polls/{activity_id}/results", headers=brand.auth(Role.ANALYST)
    ).json()
    assert results["voters"] == 2
    assert [o["votes"] for o in results["options"]] == [1, 1, 0]


def test_a_forged_or_foreign_token_is_no_identity(client: TestClient, brand: Brand) -> None:
    slug, activity_id, options = live_campaign(client, brand)
    app = _fresh_client(client)
    vote_url = f"/api/v1/public/campaigns/{slug}/polls/{activity_id}/votes"
    read_url = f"/api/v1/public/campaigns/{slug}/activities/{activity_id}"
    token = _token(app, slug)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    answer = app.post(
        vote_url, json={"options": [options[0]], "consent": True}, headers={"X-IM2-Token": forged}
    )
    assert answer.status_code == 401
    assert answer.json()["error"]["message"] == "This widget token is not valid; get a new one."
    assert "set-cookie" not in answer.headers

    # A token another brand's widget got reads nothing of this brand's activities.
    rival = make_brand(client.app.state.db, slug="rival", now=client.app.state.clock.now())  # type: ignore[attr-defined]
    secret = client.app.state.settings.secret_key.get_secret_value()  # type: ignore[attr-defined]
    rival_token = issue_token(secret, workspace_id=rival.workspace_id)
    refused = app.get(read_url, headers={"X-IM2-Token": rival_token})
    assert refused.status_code == 403
    assert app.post("/api/v1/public/campaigns/no-such-campaign/tokens").status_code == 404


def test_the_embed_page_speaks_the_language_asked(client: TestClient, brand: Brand) -> None:
    slug, activity_id, _ = live_campaign(client, brand)
    assert "投票" in client.get(f"/e/{slug}/{activity_id}").text
    english = client.get(f"/e/{slug}/{activity_id}?lang=en").text
    assert ">Vote<" in english


def test_a_quiz_in_an_app_answers_once_per_token(client: TestClient, brand: Brand) -> None:
    """Every public API route takes the token as the visitor, not only the poll's vote."""
    slug, campaign_id = quiz_campaign(client, brand)
    quiz = add_quiz(client, brand, campaign_id)
    app = _fresh_client(client)
    first, second = _token(app, slug), _token(app, slug)
    for token in (first, second):
        shown = app.get(public(slug, quiz["activity_id"]), headers={"X-IM2-Token": token})
        assert shown.status_code == 200
        assert "set-cookie" not in shown.headers
    question = quiz["questions"][0]
    body = {"question_id": question["id"], "option_id": question["options"][0]["id"]}
    url = public(slug, quiz["activity_id"], "/answers")
    answered = app.post(url, json={**body, "consent": True}, headers={"X-IM2-Token": first})
    assert answered.status_code == 201, answered.text
    assert answered.json()["correct"] is True
    assert app.post(url, json=body, headers={"X-IM2-Token": first}).status_code == 409
    other = app.post(url, json={**body, "consent": True}, headers={"X-IM2-Token": second})
    assert other.status_code == 201


def test_an_app_reads_which_languages_the_campaign_speaks(client: TestClient, brand: Brand) -> None:
    """A mini-program shows its own language switcher from what the campaign offers, and asks
    for one with Accept-Language."""
    slug, activity_id, _ = live_campaign(client, brand)
    listed = client.get(f"/api/v1/campaigns?q={slug}", headers=brand.auth(Role.OWNER))
    [found] = [c for c in listed.json()["items"] if c["slug"] == slug]
    edited = client.patch(
        f"/api/v1/campaigns/{found['id']}",
        json={"languages": ["en", "zh-TW", "zh-CN"], "default_language": "zh-TW"},
        headers=brand.auth(Role.OWNER),
    )
    assert edited.status_code == 200, edited.text
    app = _fresh_client(client)
    read_url = f"/api/v1/public/campaigns/{slug}/activities/{activity_id}"
    seen = app.get(read_url, headers={"X-IM2-Token": _token(app, slug)})
    assert seen.status_code == 200, seen.text
    assert seen.json()["languages"] == ["zh-CN", "zh-TW", "en"]
    assert seen.json()["default_language"] == "zh-TW"
    traditional = app.get(
        read_url, headers={"X-IM2-Token": _token(app, slug), "Accept-Language": "zh-TW"}
    ).json()
    assert "裝置" in traditional["consent_text"], traditional["consent_text"]
