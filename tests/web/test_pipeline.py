"""The request pipeline around every route: Idempotency-Key, compression, cookies."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from im2.activities.formats.poll.models import PollBallot
from im2.db import Database
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_polls import live_campaign, vote_url


def _ballots(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(PollBallot)) or 0)


def test_a_retried_vote_with_its_key_gets_the_first_answer_and_counts_once(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, activity_id, options = live_campaign(client, brand)
    body = {"options": [options[1]], "consent": True}
    headers = {"Idempotency-Key": "phone-retry-1"}

    first = client.post(vote_url(slug, activity_id), json=body, headers=headers)
    again = client.post(vote_url(slug, activity_id), json=body, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _ballots(db) == 1
    # Without the key, the same device voting again is told so (not replayed).
    plain = client.post(vote_url(slug, activity_id), json=body)
    assert plain.status_code == 409
    assert "Idempotent-Replayed" not in plain.headers


def test_a_key_that_is_too_long_is_refused_before_anything_runs(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, activity_id, options = live_campaign(client, brand)
    refused = client.post(
        vote_url(slug, activity_id),
        json={"options": [options[0]], "consent": True},
        headers={"Idempotency-Key": "k" * 256},
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "Idempotency-Key"
    assert _ballots(db) == 0


def test_a_request_that_crashed_can_be_retried_with_its_key(app: FastAPI, brand: Brand) -> None:
    attempts: list[int] = []

    async def flaky() -> dict[str, int]:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("the first attempt dies")
        return {"attempt": len(attempts)}

    app.add_api_route("/api/v1/test-flaky", flaky, methods=["POST"])
    headers = {**brand.auth(Role.OWNER), "Idempotency-Key": "flaky-1"}
    with TestClient(app, raise_server_exceptions=False) as client:
        crashed = client.post("/api/v1/test-flaky", json={}, headers=headers)
        retried = client.post("/api/v1/test-flaky", json={}, headers=headers)
        replayed = client.post("/api/v1/test-flaky", json={}, headers=headers)
    assert crashed.status_code == 500
    assert crashed.json()["error"]["code"] == "internal"
    # The crash released the claim: the retry runs (no 409 for a minute), then is replayed.
    assert retried.status_code == 200
    assert retried.json() == {"attempt": 2}
    assert replayed.json() == {"attempt": 2}
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert len(attempts) == 2


def test_pages_are_compressed_only_for_clients_that_ask(client: TestClient) -> None:
    plain = client.get("/console/login", headers={"Accept-Encoding": "identity"})
    packed = client.get("/console/login", headers={"Accept-Encoding": "gzip"})
    assert plain.status_code == packed.status_code == 200
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["vary"]
    # httpx decompressed it. The CSRF token carries a timestamp, so two requests a second
    # apart differ in it (they did in CI); every other byte must match.
    hidden = re.compile(r'<input type="hidden"[^>]*>')
    assert hidden.sub("", packed.text) == hidden.sub("", plain.text)


def test_api_answers_set_no_csrf_cookie_and_pages_do(client: TestClient) -> None:
    api = client.get("/api/v1/campaigns/templates")
    page = client.get("/console/login")
    assert api.status_code == 200
    assert "im2_csrf" not in api.headers.get("set-cookie", "")
    assert "im2_csrf=" in page.headers["set-cookie"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert api.headers["x-content-type-options"] == "nosniff"
