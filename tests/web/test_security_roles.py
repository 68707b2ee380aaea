"""The role matrix, tested from one table: each area's console pages and API reads with each
role, 200 or 403; and every route of a restricted area refuses the roles without it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from im2.workspaces.areas import AREAS, area_permissions
from im2.workspaces.schemas import ROLE_PERMISSIONS, Permission, Role
from tests.conftest import PASSWORD, Brand, go_live
from tests.test_auth import csrf
from tests.test_polls import POLL

OWNER, EDITOR, ANALYST, VIEWER = Role.OWNER, Role.EDITOR, Role.ANALYST, Role.VIEWER
EVERYONE = frozenset(Role)

# area: (roles that may read it, its pages and API reads). {c} is a campaign, {p} its poll.
MATRIX: dict[str, tuple[frozenset[Role], tuple[str, ...]]] = {
    "campaigns": (
        EVERYONE,
        (
            "/console/w/acme/campaigns",
            "/console/w/acme/campaigns/{c}",
            "/console/w/acme/campaigns/{c}/activities",
            "/console/w/acme/poll/{p}",
            "/console/w/acme/campaigns/{c}/analytics",
            "/console/w/acme/campaigns/{c}/report",
            "/api/v1/campaigns",
            "/api/v1/campaigns/{c}",
            "/api/v1/polls/{p}/results",
            "/api/v1/campaigns/{c}/overview",
        ),
    ),
    "social listening": (
        frozenset({OWNER, EDITOR, ANALYST}),
        (
            "/console/w/acme/listening",
            "/console/w/acme/listening/mentions",
            "/console/w/acme/listening/inbox",
            "/console/w/acme/listening/alerts",
            "/console/w/acme/listening/feeds",
            "/console/w/acme/listening/topics",
            "/api/v1/mentions",
            "/api/v1/inbox",
            "/api/v1/alerts",
            "/api/v1/topics",
            "/api/v1/listening/feeds",
        ),
    ),
    "influence": (
        frozenset({OWNER, EDITOR, ANALYST}),
        (
            "/console/w/acme/influence",
            "/console/w/acme/campaigns/{c}/influence",
            "/api/v1/influence/graphs",
        ),
    ),
    "data exports": (
        frozenset({OWNER, EDITOR, ANALYST}),
        (
            "/console/w/acme/poll/{p}/export.csv",
            "/console/w/acme/campaigns/{c}/influence/kols.csv",
            "/api/v1/campaigns/{c}/influence/kols.csv",
        ),
    ),
    "members": (
        frozenset({OWNER, ANALYST}),
        ("/console/w/acme/members", "/api/v1/users"),
    ),
    "tokens and audit": (
        frozenset({OWNER, ANALYST}),
        ("/console/w/acme/tokens", "/console/w/acme/audit", "/api/v1/tokens", "/api/v1/audit"),
    ),
}


@pytest.fixture
def world(client: TestClient, brand: Brand) -> dict[str, int]:
    campaign = go_live(client, brand)
    poll = client.post(
        f"/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=brand.auth(OWNER)
    )
    assert poll.status_code == 201, poll.text
    return {"c": campaign["id"], "p": poll.json()["id"]}


@pytest.fixture
def consoles(app: FastAPI, brand: Brand) -> Iterator[dict[Role, TestClient]]:
    """One signed-in browser per role."""
    clients: dict[Role, TestClient] = {}
    for role in Role:
        c = TestClient(app)
        c.__enter__()
        signed_in = c.post(
            "/console/login",
            data={"email": brand.emails[role], "password": PASSWORD, "csrf_token": csrf(c)},
            follow_redirects=False,
        )
        assert signed_in.status_code == 303
        clients[role] = c
    yield clients
    for c in clients.values():
        c.__exit__(None, None, None)


def _get(consoles: dict[Role, TestClient], brand: Brand, role: Role, url: str) -> tuple[int, str]:
    if url.startswith("/api/"):
        response = consoles[role].get(url, headers=brand.auth(role))
    else:
        response = consoles[role].get(url, follow_redirects=False)
    return response.status_code, response.text[:300]


def test_the_matrix_table_is_the_code_table() -> None:
    """The table above says what ROLE_PERMISSIONS and the areas say, area by area."""
    by_area = {area.name: area.permission for area in AREAS}
    for area, (allowed, _urls) in MATRIX.items():
        permission = by_area.get(area)
        if permission is None:
            continue
        assert allowed == {r for r in Role if permission in ROLE_PERMISSIONS[r]}, area
    assert ROLE_PERMISSIONS[VIEWER] == {Permission.READ_CAMPAIGNS}


@pytest.mark.parametrize("area", MATRIX)
def test_role_matrix(
    consoles: dict[Role, TestClient], brand: Brand, world: dict[str, int], area: str
) -> None:
    allowed, urls = MATRIX[area]
    wrong = []
    for url in urls:
        for role in Role:
            status, text = _get(consoles, brand, role, url.format(**world))
            if status != (200 if role in allowed else 403):
                wrong.append((url, role.value, status, text))
    assert wrong == []


def _area_routes(app: FastAPI) -> list[str]:
    paths: set[str] = set()
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        for c in contexts() if contexts else []:
            if "GET" in (c.methods or ()) and c.path.startswith(("/api/v1/", "/console/w/")):
                paths.add(c.path)
    return sorted(p for p in paths if area_permissions(_concrete(p, {"c": 1, "p": 1})))


def _concrete(path: str, world: dict[str, int]) -> str:
    path = path.replace("{workspace}", "acme").replace("{campaign_id}", str(world["c"]))
    path = re.sub(r"\{fmt\}", "csv", path)
    return re.sub(r"\{[^}]+\}", str(world["p"]), path)


def test_every_route_of_an_area_refuses_the_roles_without_it(
    app: FastAPI, consoles: dict[Role, TestClient], brand: Brand, world: dict[str, int]
) -> None:
    routes = _area_routes(app)
    assert len(routes) > 40  # listening, influence and every download
    for path in routes:
        url = _concrete(path, world)
        needed = area_permissions(url)
        for role in Role:
            status, text = _get(consoles, brand, role, url)
            if all(p in ROLE_PERMISSIONS[role] for p in needed):
                assert status < 500, (url, role, text)
            else:
                assert status == 403, (url, role, status, text)


def test_every_listening_influence_and_download_route_is_in_its_area(app: FastAPI) -> None:
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        for c in contexts() if contexts else []:
            if not c.path.startswith(("/api/v1/", "/console/w/")) or "/public/" in c.path:
                continue
            needed = area_permissions(_concrete(c.path, {"c": 1, "p": 1}))
            module = c.endpoint.__module__
            if module.startswith("im2.listening."):
                assert Permission.READ_LISTENING in needed, c.path
            if module.startswith("im2.influence."):
                assert Permission.READ_INFLUENCE in needed, c.path
            if re.search(r"\.(csv|xlsx)$|/export", c.path):
                assert Permission.EXPORT_DATA in needed, c.path
