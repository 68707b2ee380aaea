"""Secure defaults: cookies, CSP with nonces, HSTS, no-store, and the API docs behind login."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from im2.app import create_app
from im2.clock import ManualClock
from im2.config import Environment, Settings
from im2.db import Database
from im2.workspaces.schemas import Role
from tests.conftest import PASSWORD, Brand
from tests.test_auth import csrf


def _client(settings: Settings, db: Database, clock: ManualClock, **update: object) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=update), db=db, clock=clock))


@pytest.fixture
def production(settings: Settings, db: Database, clock: ManualClock) -> Iterator[TestClient]:
    """The app as deployed (IM2_ENV=production), reached over HTTPS."""
    app = create_app(
        settings.model_copy(update={"env": Environment.PRODUCTION}), db=db, clock=clock
    )
    with TestClient(app, base_url="https://testserver") as c:
        yield c


def _sign_in(client: TestClient, email: str) -> str:
    response = client.post(
        "/console/login",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    return response.headers["set-cookie"]


def test_every_cookie_is_secure_in_production(
    settings: Settings, db: Database, clock: ManualClock, production: TestClient, brand: Brand
) -> None:
    # Even where the proxy in front does not say the request came over HTTPS.
    with _client(settings, db, clock, env=Environment.PRODUCTION) as plain:
        page = plain.get("/console/login")
    assert "im2_csrf=" in page.headers["set-cookie"]
    assert "; Secure" in page.headers["set-cookie"]
    assert "; Secure" in _sign_in(production, brand.emails[Role.OWNER])


def test_cookies_are_secure_over_https_even_in_development(
    settings: Settings, db: Database, clock: ManualClock, brand: Brand
) -> None:
    with TestClient(create_app(settings, db=db, clock=clock), base_url="https://testserver") as c:
        assert "; Secure" in c.get("/console/login").headers["set-cookie"]
    with TestClient(create_app(settings, db=db, clock=clock)) as plain:
        assert "Secure" not in plain.get("/console/login").headers["set-cookie"]


def test_html_pages_carry_a_csp_whose_nonce_their_inline_scripts_use(
    client: TestClient, brand: Brand
) -> None:
    _sign_in(client, brand.emails[Role.OWNER])
    page = client.get("/console/w/acme/listening")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)([^>]*)>", page.text)
    assert inline, "the page has an inline script to check"
    assert all(f'nonce="{nonce.group(1)}"' in attrs for attrs in inline)
    again = client.get("/console/w/acme/listening").headers["content-security-policy"]
    assert again != policy  # a new nonce per response
    assert "content-security-policy" not in client.get("/api/v1/campaigns/templates").headers


def test_no_inline_event_handlers_in_templates() -> None:
    from im2.web.templating import TEMPLATE_DIRS

    handlers = [
        f"{path.name}: {m.group(0)}"
        for folder in TEMPLATE_DIRS
        for path in folder.rglob("*.html")
        for m in re.finditer(r"\son[a-z]+\s*=", path.read_text())
    ]
    assert handlers == []


def test_private_answers_are_not_stored(client: TestClient, brand: Brand) -> None:
    api = client.get("/api/v1/campaigns", headers=brand.auth(Role.OWNER))
    assert api.headers["cache-control"] == "no-store"
    assert client.get("/api/v1/nope").headers["cache-control"] == "no-store"
    _sign_in(client, brand.emails[Role.OWNER])
    assert client.get("/console/w/acme/campaigns").headers["cache-control"] == "no-store"
    assert "no-store" not in client.get("/static/im2.css").headers.get("cache-control", "")


def test_hsts_in_production_over_https_only(
    settings: Settings, db: Database, clock: ManualClock
) -> None:
    prod = settings.model_copy(update={"env": Environment.PRODUCTION})
    with TestClient(create_app(prod, db=db, clock=clock), base_url="https://testserver") as c:
        assert "max-age=" in c.get("/console/login").headers["strict-transport-security"]
    with TestClient(create_app(prod, db=db, clock=clock)) as plain:
        assert "strict-transport-security" not in plain.get("/console/login").headers
    proxied = prod.model_copy(update={"base_url": "https://im2.example.com"})
    with TestClient(create_app(proxied, db=db, clock=clock)) as behind_proxy:
        assert "strict-transport-security" in behind_proxy.get("/healthz").headers
    with TestClient(create_app(settings, db=db, clock=clock), base_url="https://testserver") as c:
        assert "strict-transport-security" not in c.get("/healthz").headers


def test_api_docs_need_a_console_login_in_production(production: TestClient, brand: Brand) -> None:
    for path in ("/api/docs", "/openapi.json"):
        refused = production.get(path, follow_redirects=False)
        assert refused.status_code == 303
        assert refused.headers["location"].startswith("/console/login")
    _sign_in(production, brand.emails[Role.VIEWER])
    assert production.get("/openapi.json").json()["info"]["title"] == "IM2 API"
    docs = production.get("/api/docs")
    assert docs.status_code == 200
    nonce = re.search(r"'nonce-([^']+)'", docs.headers["content-security-policy"])
    assert nonce
    assert f'<script nonce="{nonce.group(1)}">' in docs.text


def test_api_docs_can_be_made_public(settings: Settings, db: Database, clock: ManualClock) -> None:
    update = {"env": Environment.PRODUCTION, "public_api_docs": True}
    with _client(settings, db, clock, **update) as c:
        assert c.get("/openapi.json").status_code == 200
    with _client(settings, db, clock) as dev:  # outside production they are public by default
        assert dev.get("/api/docs").status_code == 200
