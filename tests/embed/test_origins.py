"""Allowed embed origins: what a brand may type, how it is stored, who may change it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from im2.embed.schemas import check_origin, origin_allowed
from im2.errors import InvalidInput
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_auth import login

URL = "/api/v1/embed/origins"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("https://www.example.com", "https://www.example.com"),
        ("  HTTPS://Shop.Example.COM/  ", "https://shop.example.com"),
        ("https://example.com:443", "https://example.com"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://127.0.0.2:5173", "http://127.0.0.2:5173"),
        ("https://*.example.com", "https://*.example.com"),
        ("https://xn--fiqs8s.cn", "https://xn--fiqs8s.cn"),
    ],
)
def test_an_origin_is_stored_as_browsers_write_it(typed: str, stored: str) -> None:
    assert check_origin(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "*",
        "www.example.com",  # no scheme
        "ftp://example.com",
        "javascript:alert(1)",
        "https://example.com/path",
        "https://example.com?x=1",
        "https://user@example.com",
        "https://*",
        "https://*.com",  # every .com site
        "http://*.example.com",  # wildcards only on https
        "https://shop.*.example.com",
        "https://*example.com",
        "https://exa mple.com",
        "https://-bad-.example.com",
        "https://example.com:0",
        "https://example.com:99999",
        "https://300.1.1.1",
        "https://example.com 'unsafe-inline'",  # would smuggle a CSP source
        "https://example.com;script-src *",
        "https://" + "a" * 250 + ".com",
    ],
)
def test_a_bad_origin_is_refused_naming_the_field(typed: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_origin(typed)
    assert refused.value.field == "origin"


def test_a_wildcard_matches_sub_domains_only_as_csp_does() -> None:
    allowed = ["https://*.example.com", "http://127.0.0.2:5173"]
    assert origin_allowed("https://shop.example.com", allowed)
    assert origin_allowed("https://a.b.example.com", allowed)
    assert not origin_allowed("https://example.com", allowed)
    assert not origin_allowed("http://shop.example.com", allowed)
    assert not origin_allowed("https://shop.example.com:8443", allowed)
    assert not origin_allowed("https://evilexample.com", allowed)
    assert origin_allowed("http://127.0.0.2:5173", allowed)
    assert not origin_allowed("http://127.0.0.2:5174", allowed)
    assert not origin_allowed("null", allowed)


@pytest.mark.parametrize(
    "body", [{"origin": "https://example.com/embed"}, {"origin": "*"}, {"origin": "x" * 300}]
)
def test_the_api_refuses_a_bad_origin_with_422_naming_the_field(
    client: TestClient, brand: Brand, body: dict[str, str]
) -> None:
    answer = client.post(URL, json=body, headers=brand.auth(Role.OWNER))
    assert answer.status_code == 422
    assert "origin" in str(answer.json()["error"]["field"])
    assert client.get(URL, headers=brand.auth(Role.OWNER)).json() == []


def test_adding_an_origin_twice_keeps_one(client: TestClient, brand: Brand) -> None:
    owner = brand.auth(Role.OWNER)
    first = client.post(URL, json={"origin": "https://Shop.example.com"}, headers=owner)
    again = client.post(URL, json={"origin": "https://shop.example.com:443/"}, headers=owner)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert [o["origin"] for o in client.get(URL, headers=owner).json()] == [
        "https://shop.example.com"
    ]
    removed = client.delete(f"{URL}/{first.json()['id']}", headers=owner)
    assert removed.status_code == 204
    assert client.get(URL, headers=owner).json() == []
    assert client.delete(f"{URL}/{first.json()['id']}", headers=owner).status_code == 404


def test_viewers_see_the_origins_and_cannot_change_them(client: TestClient, brand: Brand) -> None:
    client.post(URL, json={"origin": "https://a.example.com"}, headers=brand.auth(Role.EDITOR))
    viewer = brand.auth(Role.VIEWER)
    assert [o["origin"] for o in client.get(URL, headers=viewer).json()] == [
        "https://a.example.com"
    ]
    refused = client.post(URL, json={"origin": "https://b.example.com"}, headers=viewer)
    assert refused.status_code == 403


def test_a_workspace_allows_at_most_twenty_sites(client: TestClient, brand: Brand) -> None:
    owner = brand.auth(Role.OWNER)
    for i in range(20):
        client.post(URL, json={"origin": f"https://s{i}.example.com"}, headers=owner)
    refused = client.post(URL, json={"origin": "https://s20.example.com"}, headers=owner)
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "origin"


def test_the_console_page_shows_the_refusal_in_chinese_and_keeps_what_was_typed(
    client: TestClient, brand: Brand
) -> None:
    login(client, brand.emails[Role.OWNER])
    page = client.get("/console/w/acme/embed")
    assert page.status_code == 200
    assert "嵌入" in page.text
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    refused = client.post(
        "/console/w/acme/embed/origins",
        data={"csrf_token": token, "origin": "https://shop.example.com/page"},
    )
    assert refused.status_code == 422
    assert "https://shop.example.com/page" in refused.text
    assert "路径" in refused.text
    added = client.post(
        "/console/w/acme/embed/origins",
        data={"csrf_token": token, "origin": "https://shop.example.com"},
        follow_redirects=True,
    )
    assert added.status_code == 200
    assert "https://shop.example.com" in added.text
