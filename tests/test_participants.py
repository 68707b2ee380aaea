"""A participant's own page: nickname, and a verified e-mail or phone by one-time code."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.db import Database
from im2.events.service import list_events
from im2.participation.senders import MemorySender
from tests.conftest import Brand
from tests.test_polls import live_campaign


@pytest.fixture
def outbox(app: FastAPI) -> MemorySender:
    sender = MemorySender()
    app.state.code_sender = sender
    return sender


def _post(client: TestClient, slug: str, action: str, data: dict[str, str]):
    page = client.get(f"/c/{slug}/me" + ("?sent=" + data["channel"] if action == "verify" else ""))
    forms = re.findall(r"<form\b.*?</form>", page.text, flags=re.S)
    form = next(f for f in forms if f'action="/c/{slug}/me/{action}"' in f)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    return client.post(
        f"/c/{slug}/me/{action}", data={**data, "csrf_token": token}, follow_redirects=False
    )


def test_nickname_needs_consent_first_then_saves(client: TestClient, brand: Brand) -> None:
    slug, _activity, _options = live_campaign(client, brand)
    refused = _post(client, slug, "nickname", {"nickname": "小林"})
    assert refused.status_code == 422
    assert "同意" in refused.text
    saved = _post(client, slug, "nickname", {"nickname": "  小林  爱咖啡 ", "consent": "yes"})
    assert saved.status_code == 303
    assert 'value="小林 爱咖啡"' in client.get(f"/c/{slug}/me").text
    too_long = _post(client, slug, "nickname", {"nickname": "名" * 21})
    assert too_long.status_code == 422
    assert "最多 20 个字符" in too_long.text


def test_verify_an_email_with_a_code(
    client: TestClient, brand: Brand, db: Database, outbox: MemorySender, clock: ManualClock
) -> None:
    slug, _activity, _options = live_campaign(client, brand)
    sent = _post(
        client,
        slug,
        "code",
        {"channel": "email", "destination": "Lin@Example.com", "consent": "yes"},
    )
    assert sent.status_code == 303
    assert outbox.sent[0][:2] == ("email", "lin@example.com")
    code = outbox.sent[0][2]
    assert re.fullmatch(r"\d{6}", code)

    wrong = _post(
        client,
        slug,
        "verify",
        {"channel": "email", "code": "000000" if code != "000000" else "111111"},
    )
    assert wrong.status_code == 422
    assert "不对" in wrong.text
    ok = _post(client, slug, "verify", {"channel": "email", "code": code})
    assert ok.status_code == 303
    page = client.get(f"/c/{slug}/me").text
    assert "lin@example.com" in page
    with db.session() as session:
        assert [e.kind for e in list_events(session, kinds=["participant.verified"])] == [
            "participant.verified"
        ]
    reused = _post(client, slug, "verify", {"channel": "email", "code": code})
    assert reused.status_code == 422  # a code works once


def test_codes_expire_and_wrong_guesses_run_out(
    client: TestClient, brand: Brand, outbox: MemorySender, clock: ManualClock
) -> None:
    slug, _activity, _options = live_campaign(client, brand)
    _post(
        client, slug, "code", {"channel": "phone", "destination": "138 0013 8000", "consent": "yes"}
    )
    assert outbox.sent[-1][:2] == ("phone", "13800138000")
    clock.advance(timedelta(minutes=11))
    expired = _post(client, slug, "verify", {"channel": "phone", "code": outbox.sent[-1][2]})
    assert expired.status_code == 422
    assert "过期" in expired.text

    _post(client, slug, "code", {"channel": "phone", "destination": "13800138000"})
    code = outbox.sent[-1][2]
    wrong = "999999" if code != "999999" else "888888"
    for _ in range(5):
        assert _post(client, slug, "verify", {"channel": "phone", "code": wrong}).status_code == 422
    spent = _post(client, slug, "verify", {"channel": "phone", "code": code})
    assert spent.status_code == 422
    assert "错误次数过多" in spent.text


def test_bad_destinations_and_too_many_codes(
    client: TestClient, brand: Brand, outbox: MemorySender
) -> None:
    slug, _activity, _options = live_campaign(client, brand)
    bad_mail = _post(
        client,
        slug,
        "code",
        {"channel": "email", "destination": "not-an-address", "consent": "yes"},
    )
    assert bad_mail.status_code == 422
    assert 'id="destination-error"' in bad_mail.text
    bad_phone = _post(client, slug, "code", {"channel": "phone", "destination": "12345"})
    assert bad_phone.status_code == 422
    assert outbox.sent == []  # and nothing was written: the visitor has not even joined
    assert "我同意" in client.get(f"/c/{slug}/me").text
    _post(client, slug, "nickname", {"nickname": "阿青", "consent": "yes"})
    for _ in range(3):
        assert (
            _post(
                client, slug, "code", {"channel": "email", "destination": "a@example.com"}
            ).status_code
            == 303
        )
    fourth = _post(client, slug, "code", {"channel": "email", "destination": "a@example.com"})
    assert fourth.status_code == 429
    assert len(outbox.sent) == 3


def test_profile_of_a_draft_campaign_is_not_public(client: TestClient, brand: Brand) -> None:
    from im2.workspaces.schemas import Role
    from tests.conftest import campaign_payload

    client.post(
        "/api/v1/campaigns", json=campaign_payload(slug="hidden"), headers=brand.auth(Role.OWNER)
    )
    assert client.get("/c/hidden/me").status_code == 404
