"""Console login, sessions, CSRF, lock-out; API tokens; roles."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from im2.clock import ManualClock
from im2.db import Database
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


def test_wrong_password_and_lockout(client: TestClient, brand: Brand, clock: ManualClock) -> None:
    email = brand.emails[Role.EDITOR]
    for _ in range(4):
        assert login(client, email, "wrong password!") == 401
    fifth = client.post(
        "/console/login",
        data={"email": email, "password": "still wrong", "csrf_token": csrf(client)},
    )
    assert fifth.status_code == 401
    assert "15" in fifth.text  # tells how long the lock lasts
    assert login(client, email) == 401  # right password, but locked
    clock.advance(timedelta(minutes=16))
    assert login(client, email) == 303


def test_unknown_email_gets_the_same_message(client: TestClient, brand: Brand) -> None:
    client.cookies.set("im2_lang", "en")
    token = csrf(client)
    unknown = client.post(
        "/console/login",
        data={"email": "nobody@x.example", "password": "x" * 12, "csrf_token": token},
    )
    wrong = client.post(
        "/console/login",
        data={"email": brand.emails[Role.OWNER], "password": "x" * 12, "csrf_token": token},
    )
    assert unknown.status_code == wrong.status_code == 401
    assert "E-mail or password is wrong." in unknown.text
    assert "E-mail or password is wrong." in wrong.text


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
