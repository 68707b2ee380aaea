"""Influence requests racing each other through a real server on loopback."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer


def test_same_graph_name_at_once_stores_one_graph(live_server: LiveServer, brand: Brand) -> None:
    def post(i: int) -> httpx.Response:
        return httpx.post(
            f"{live_server.url}/api/v1/influence/graphs",
            data={"name": "follows"},
            files={"file": ("f.txt", f"a b\nb c\nc x{i}\n".encode(), "text/plain")},
            headers=brand.auth(Role.OWNER),
            timeout=60,
        )

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(post, range(12)))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1, codes
    assert codes.count(409) == 11, codes  # never a 500 or a half-stored graph
    listed = httpx.get(
        f"{live_server.url}/api/v1/influence/graphs", headers=brand.auth(Role.ANALYST)
    ).json()
    assert [(g["name"], g["edges"]) for g in listed] == [("follows", 3)]


def test_seed_requests_in_parallel_all_answer(live_server: LiveServer, brand: Brand) -> None:
    """Several IMM runs at once (numba kernels in parallel threads) neither crash nor hang."""
    lines = "".join(f"hub n{i}\nn{i} m{i}\n" for i in range(30))
    created = httpx.post(
        f"{live_server.url}/api/v1/influence/graphs",
        data={"name": "star"},
        files={"file": ("star.txt", lines.encode(), "text/plain")},
        headers=brand.auth(Role.OWNER),
        timeout=60,
    )
    assert created.status_code == 201, created.text

    def ask(k: int) -> httpx.Response:
        return httpx.post(
            f"{live_server.url}/api/v1/influence/seeds",
            json={"k": k, "epsilon": 0.3},
            headers=brand.auth(Role.ANALYST),
            timeout=120,
        )

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(ask, [1, 1, 2, 2, 3, 3]))
    assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses]
    for r in responses:
        assert r.json()["seeds"][0]["key"] == "hub"
