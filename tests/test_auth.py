"""Console login, sessions, CSRF, sign-in throttling; API tokens; roles."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Literal

import httpx
import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from fastapi.testclient import TestClient
from sqlalchemy import select

from im2.app import create_app
from im2.clock import ManualClock
from im2.config import Settings
from im2.db import Database
from im2.workspaces import _common
from im2.workspaces.models import ApiToken, ConsoleSession
from im2.workspaces.schemas import Role
from tests.conftest import PASSWORD, Brand, campaign_payload


def csrf(client: TestClient, path: str = "/console/login") -> str:
    page = client.get(path)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD) -> int:
    token = csrf(client)
    response = client.post(
        "/console/login",
        data={"email": email, "password": password, "csrf_token": token, "next": "/console"},
        follow_redirects=False,
    )
    return response.status_code


def test_login_sets_a_secure_session_and_logout_ends_it(
    client: TestClient, brand: Brand, db: Database
) -> None:
    token = csrf(client)
    response = client.post(
        "/console/login",
        data={"email": brand.emails[Role.OWNER], "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "im2_session=" in cookie
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    home = client.get("/console")
    assert home.url.path == "/console/w/acme/campaigns"
    with db.session() as session:
        stored = session.scalars(select(ConsoleSession.token_hash)).all()
    raw = client.cookies.get("im2_session")
    assert raw
    assert raw not in stored

    logout = client.post(
        "/console/logout",
        data={"csrf_token": csrf(client, "/console/w/acme/campaigns")},
        follow_redirects=False,
    )
    assert logout.status_code == 303
    client.cookies.set("im2_session", raw)  # even a stolen copy of the cookie is dead now
    assert client.get("/console/w/acme/campaigns", follow_redirects=False).status_code == 303


def _answer(response: httpx.Response) -> tuple[int, str]:
    """What a login answer shows, without the parts that differ per form (the CSRF token and
    the e-mail typed back into the field)."""
    text = re.sub(r'name="csrf_token" value="[^"]+"', "", response.text)
    text = re.sub(r'name="email"[^>]*>', "", text)
    return response.status_code, text


@pytest.fixture
def proxied(settings: Settings, db: Database, clock: ManualClock) -> Iterator[TestClient]:
    """A client of an app behind a proxy: `X-Forwarded-For` says which address signs in."""
    app = create_app(settings.model_copy(update={"trust_forwarded_for": True}), db=db, clock=clock)
    with TestClient(app) as c:
        yield c


def attempt(client: TestClient, email: str, password: str, ip: str) -> httpx.Response:
    return client.post(
        "/console/login",
        data={"email": email, "password": password, "csrf_token": csrf(client)},
        headers={"X-Forwarded-For": ip},
        follow_redirects=False,
    )


def test_unknown_wrong_and_attacked_accounts_get_the_same_answer(
    proxied: TestClient, brand: Brand
) -> None:
    proxied.cookies.set("im2_lang", "en")
    # Someone elsewhere hammered the editor's account (that used to lock it).
    for _ in range(8):
        attempt(proxied, brand.emails[Role.EDITOR], "guess guess guess", "203.0.113.9")

    unknown = attempt(proxied, "nobody@acme.example.com", "wrong password!", "198.51.100.1")
    wrong = attempt(proxied, brand.emails[Role.OWNER], "wrong password!", "198.51.100.2")
    attacked = attempt(proxied, brand.emails[Role.EDITOR], "wrong password!", "198.51.100.3")

    assert _answer(unknown) == _answer(wrong) == _answer(attacked)
    assert unknown.status_code == 401
    assert "E-mail or password is wrong." in unknown.text
    # ... and the attacked account's owner, from their own network, still gets in.
    assert attempt(proxied, brand.emails[Role.EDITOR], PASSWORD, "198.51.100.3").status_code == 303


def test_unknown_accounts_cost_one_password_check_like_known_ones(
    client: TestClient, brand: Brand, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            checks.append(str(hash))
            return super().verify(hash, password)

    monkeypatch.setattr(_common, "_hasher", Counting.from_parameters(CHEAPEST))
    assert login(client, "nobody@acme.example.com", "wrong password!") == 401
    assert login(client, brand.emails[Role.OWNER], "wrong password!") == 401
    assert len(checks) == 2
    # The stand-in hash costs what a real one does: same algorithm, same parameters.
    assert checks[0].rsplit("$", 2)[0] == checks[1].rsplit("$", 2)[0]


def test_one_address_is_throttled_across_accounts_even_with_the_right_password(
    proxied: TestClient, brand: Brand
) -> None:
    proxied.cookies.set("im2_lang", "en")
    attacker = "203.0.113.7"
    statuses = [
        attempt(proxied, f"user{i}@acme.example.com", "wrong password!", attacker).status_code
        for i in range(40)
    ]
    assert statuses[0] == 401
    assert statuses[-1] == 429
    throttled = attempt(proxied, brand.emails[Role.OWNER], PASSWORD, attacker)
    assert throttled.status_code == 429
    assert "Too many failed sign-ins from your network" in throttled.text
    assert "15 minutes" in throttled.text
    # Known and unknown accounts get the same throttled answer.
    unknown = attempt(proxied, "nobody@acme.example.com", PASSWORD, attacker)
    assert _answer(throttled) == _answer(unknown)
    # Another network is not affected.
    assert attempt(proxied, brand.emails[Role.OWNER], PASSWORD, "198.51.100.4").status_code == 303


def test_guessing_one_account_from_one_address_is_throttled_for_that_account_only(
    proxied: TestClient, brand: Brand
) -> None:
    ip = "198.51.100.20"
    for _ in range(5):
        assert attempt(proxied, brand.emails[Role.VIEWER], "wrong password!", ip).status_code == 401
    assert attempt(proxied, brand.emails[Role.VIEWER], PASSWORD, ip).status_code == 429
    assert attempt(proxied, brand.emails[Role.ANALYST], PASSWORD, ip).status_code == 303


def test_form_without_csrf_is_refused_and_writes_nothing(client: TestClient, brand: Brand) -> None:
    assert login(client, brand.emails[Role.OWNER]) == 303
    form = {"name": "CSRF", "slug": "csrf", "objective": "ugc", "timezone": "Asia/Shanghai"}
    missing = client.post("/console/w/acme/campaigns", data=form)
    forged = client.post(
        "/console/w/acme/campaigns", data={**form, "csrf_token": "forged.token.value"}
    )
    assert missing.status_code == forged.status_code == 403
    assert client.get("/api/v1/campaigns", headers=brand.auth(Role.OWNER)).json()["items"] == []
    # A token signed for another browser's nonce does not match this browser's cookie.
    other = TestClient(client.app)
    stolen = csrf(other)
    assert (
        client.post("/console/w/acme/campaigns", data={**form, "csrf_token": stolen}).status_code
        == 403
    )


def test_login_next_is_not_an_open_redirect(client: TestClient, brand: Brand) -> None:
    response = client.post(
        "/console/login",
        data={
            "email": brand.emails[Role.OWNER],
            "password": PASSWORD,
            "csrf_token": csrf(client),
            "next": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/console"


def test_console_requires_login_and_membership(client: TestClient, brand: Brand, db, clock) -> None:
    first = client.get("/console/w/acme/campaigns", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"].startswith("/console/login")
    from tests.conftest import make_brand

    make_brand(db, slug="rival", now=clock.now())
    assert login(client, brand.emails[Role.OWNER]) == 303
    assert client.get("/console/w/rival/campaigns").status_code == 403
    assert client.get("/console/w/nope/campaigns").status_code == 404


def test_api_token_lifecycle(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    owner = brand.auth(Role.OWNER)
    created = client.post(
        "/api/v1/tokens",
        json={"name": "shop", "role": "editor", "expires_in_days": 1},
        headers=owner,
    )
    assert created.status_code == 201
    secret = created.json()["token"]
    with db.session() as session:
        hashes = session.scalars(select(ApiToken.token_hash)).all()
    assert secret not in hashes
    listed = client.get("/api/v1/tokens", headers=owner).json()
    assert all("token" not in t for t in listed)
    shop = {"Authorization": f"Bearer {secret}"}
    assert (
        client.post("/api/v1/campaigns", json=campaign_payload(), headers=shop).status_code == 201
    )

    clock.advance(timedelta(days=1, seconds=1))
    expired = client.get("/api/v1/campaigns", headers=shop)
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]["message"]

    tokens = client.get("/api/v1/tokens", headers=owner).json()
    viewer_token = next(t for t in tokens if t["name"] == "viewer token")
    revoked = client.delete(f"/api/v1/tokens/{viewer_token['id']}", headers=owner)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"]
    gone = client.get("/api/v1/campaigns", headers=brand.auth(Role.VIEWER))
    assert gone.status_code == 401
    assert "revoked" in gone.json()["error"]["message"]


def test_api_auth_errors(client: TestClient, brand: Brand) -> None:
    assert client.get("/api/v1/campaigns").json()["error"]["code"] == "unauthorized"
    bad = client.get("/api/v1/campaigns", headers={"Authorization": "Bearer im2_nope"})
    assert bad.status_code == 401
    assert (
        client.get("/api/v1/campaigns", headers={"Authorization": "Basic abc"}).status_code == 401
    )


def test_token_and_member_management_needs_owner(client: TestClient, brand: Brand) -> None:
    editor = brand.auth(Role.EDITOR)
    assert (
        client.post(
            "/api/v1/tokens", json={"name": "x", "role": "viewer"}, headers=editor
        ).status_code
        == 403
    )
    assert client.get("/api/v1/tokens", headers=editor).status_code == 403
    assert client.get("/api/v1/tokens", headers=brand.auth(Role.ANALYST)).status_code == 200
    assert client.get("/api/v1/audit", headers=brand.auth(Role.ANALYST)).status_code == 200
    assert client.get("/api/v1/audit", headers=brand.auth(Role.VIEWER)).status_code == 403
    new = {
        "email": "new@acme.example.com",
        "display_name": "New",
        "role": "viewer",
        "password": "long enough pw",
    }
    assert client.post("/api/v1/users", json=new, headers=editor).status_code == 403
    added = client.post("/api/v1/users", json=new, headers=brand.auth(Role.OWNER))
    assert added.status_code == 201
    assert added.json()["role"] == "viewer"
    dup = client.post("/api/v1/users", json=new, headers=brand.auth(Role.OWNER))
    assert dup.status_code == 409


def test_members_api_keeps_one_owner(client: TestClient, brand: Brand) -> None:
    owner = brand.auth(Role.OWNER)
    members = client.get("/api/v1/users", headers=owner).json()
    assert sorted(m["role"] for m in members) == ["analyst", "editor", "owner", "viewer"]
    owner_id = next(m["user_id"] for m in members if m["role"] == "owner")
    demote = client.patch(f"/api/v1/users/{owner_id}", json={"role": "viewer"}, headers=owner)
    assert demote.status_code == 409
    assert client.delete(f"/api/v1/users/{owner_id}", headers=owner).status_code == 409
    editor_id = next(m["user_id"] for m in members if m["role"] == "editor")
    assert (
        client.patch(f"/api/v1/users/{editor_id}", json={"role": "analyst"}, headers=owner).json()[
            "role"
        ]
        == "analyst"
    )
    assert client.delete(f"/api/v1/users/{editor_id}", headers=owner).status_code == 204
    assert (
        client.patch("/api/v1/users/9999", json={"role": "viewer"}, headers=owner).status_code
        == 404
    )
    bad = client.post(
        "/api/v1/users",
        json={"email": "not-an-email", "display_name": "x", "role": "viewer"},
        headers=owner,
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "email"
    audit = client.get("/api/v1/audit", headers=owner).json()
    role_change = next(e for e in audit if e["action"] == "member.role")
    assert role_change["before"] == {"role": "editor"}
    assert role_change["after"] == {"role": "analyst"}
