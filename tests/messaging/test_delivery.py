"""Phone codes by SMS, end to end: the console sets the provider, a participant asks for a
code, the job sends it to a loopback provider that checks the request as documented, and the
participant verifies with the code the provider received."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from im2.clock import ManualClock
from im2.config import Settings, get_settings
from im2.db import Database
from im2.messaging import service as messaging
from im2.messaging.caps import SmsCaps
from im2.messaging.jobs import send_messages_job
from im2.messaging.models import MessageDelivery
from im2.participation.senders import MemorySender
from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer, make_brand
from tests.messaging.conftest import (
    ALIYUN_KEY_ID,
    ALIYUN_SECRET,
    TENCENT_APP_ID,
    TENCENT_SECRET_ID,
    TENCENT_SECRET_KEY,
    Provider,
)
from tests.test_auth import login
from tests.test_polls import live_campaign

PHONE = "138 0013 8000"
PLAIN = "13800138000"
MASKED = "138****8000"


@pytest.fixture(autouse=True)
def _provider_urls(
    monkeypatch: pytest.MonkeyPatch, aliyun: Provider, tencent: Provider
) -> Iterator[None]:
    """Only the providers' base URLs change: every other code path is the real one."""
    monkeypatch.setenv("IM2_SMS_ALIYUN_URL", aliyun.url)
    monkeypatch.setenv("IM2_SMS_TENCENT_URL", tencent.url)
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def _form(client: TestClient, url: str, action: str) -> str:
    page = client.get(url)
    forms = re.findall(r"<form\b.*?</form>", page.text, flags=re.S)
    form = next(f for f in forms if f'action="{action}"' in f)
    return re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]


def set_provider(
    client: TestClient, which: str, *, workspace: str = "acme", **overrides: str
) -> Any:
    base = f"/console/w/{workspace}/messaging"
    fields = {
        "aliyun": {
            "provider": "aliyun",
            "access_key_id": ALIYUN_KEY_ID,
            "access_key_secret": ALIYUN_SECRET,
            "sign_name": "阿里云短信测试",
            "verify_template": "SMS_154950909",
        },
        "tencent": {
            "provider": "tencent",
            "access_key_id": TENCENT_SECRET_ID,
            "access_key_secret": TENCENT_SECRET_KEY,
            "sign_name": "腾讯云",
            "verify_template": "449739",
            "app_id": TENCENT_APP_ID,
            "region": "ap-guangzhou",
        },
    }[which]
    data = {**fields, "daily_cap_per_number": "10", "active": "on", **overrides}
    token = _form(client, base, base)
    return client.post(base, data={**data, "csrf_token": token}, follow_redirects=False)


def ask_code(client: TestClient, slug: str, phone: str = PHONE) -> Any:
    token = _form(client, f"/c/{slug}/me", f"/c/{slug}/me/code")
    return client.post(
        f"/c/{slug}/me/code",
        data={"channel": "phone", "destination": phone, "consent": "yes", "csrf_token": token},
        follow_redirects=False,
    )


def verify(client: TestClient, slug: str, code: str) -> Any:
    token = _form(client, f"/c/{slug}/me?sent=phone", f"/c/{slug}/me/verify")
    return client.post(
        f"/c/{slug}/me/verify",
        data={"channel": "phone", "code": code, "csrf_token": token},
        follow_redirects=False,
    )


def deliveries(db: Database) -> list[SimpleNamespace]:
    """The delivery rows as they are now (plain values, read in one session)."""
    with db.session() as session:
        rows = session.scalars(select(MessageDelivery).order_by(MessageDelivery.id))
        return [
            SimpleNamespace(**{c.key: getattr(r, c.key) for c in MessageDelivery.__table__.c})
            for r in rows
        ]


def _owner(client: TestClient, brand: Brand, provider: str, **overrides: str) -> str:
    assert login(client, brand.emails[Role.OWNER]) == 303
    saved = set_provider(client, provider, **overrides)
    assert saved.status_code == 303, saved.text
    slug, _activity, _options = live_campaign(client, brand)
    client.cookies.clear()  # from here on, a participant's phone
    return slug


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_a_code_goes_out_by_sms_through_the_job_and_verifies(
    provider: str,
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    aliyun: Provider,
    tencent: Provider,
) -> None:
    fake = {"aliyun": aliyun, "tencent": tencent}[provider]
    slug = _owner(client, brand, provider)

    asked = ask_code(client, slug)
    assert asked.status_code == 303
    # Never inside the request: the provider has heard nothing yet, the code is queued.
    assert fake.requests == []
    assert "我们已向你发送 6 位验证码" in client.get(f"/c/{slug}/me?sent=phone").text
    [queued] = deliveries(db)
    assert queued.status == "pending"

    assert send_messages_job(db, clock) == 1
    assert [a["ok"] for a in fake.answers] == [True], fake.answers
    [code] = fake.sent_codes()
    assert re.fullmatch(r"\d{6}", code)
    if provider == "aliyun":
        assert fake.requests[0]["params"]["PhoneNumbers"] == PLAIN
        assert fake.requests[0]["params"]["SignName"] == "阿里云短信测试"
        assert fake.requests[0]["params"]["TemplateCode"] == "SMS_154950909"
    else:
        body = fake.requests[0]["body"]
        assert body["PhoneNumberSet"] == ["+86" + PLAIN]
        assert body["TemplateId"] == "449739"
        assert body["SmsSdkAppId"] == TENCENT_APP_ID
    assert send_messages_job(db, clock) == 0  # sent once, not again

    assert verify(client, slug, code).status_code == 303
    assert f"✓ 手机号： {PLAIN}" in client.get(f"/c/{slug}/me").text

    [sent] = deliveries(db)
    assert sent.status == "sent"
    assert sent.attempts == 1
    assert sent.destination_masked == MASKED
    # Once final, neither the number nor the code is kept; the masked number and hash stay.
    assert sent.destination is None
    assert sent.params is None
    assert sent.biz_id
    assert sent.request_id
    assert sent.fee == (1 if provider == "tencent" else None)

    client.cookies.clear()
    assert login(client, brand.emails[Role.OWNER]) == 303
    console = client.get("/console/w/acme/messaging").text
    assert MASKED in console
    assert sent.biz_id in console
    assert "已被服务商接收" in console
    assert PLAIN not in console
    assert code not in console


def test_a_provider_timeout_is_retried_with_backoff_then_sent(
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    aliyun: Provider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slug = _owner(client, brand, "aliyun")
    aliyun.slow, aliyun.delay = 1, 1.5
    ask_code(client, slug)

    with caplog.at_level(logging.DEBUG):
        assert send_messages_job(db, clock, timeout=0.3) == 1
    [waiting] = deliveries(db)
    assert waiting.status == "pending"
    assert waiting.attempts == 1
    assert waiting.error == "timed out after 0.3 s"
    assert waiting.next_attempt_at is not None
    assert timedelta(seconds=4) <= waiting.next_attempt_at - clock.now() <= timedelta(seconds=6)
    # Not before its time: the same tick sends nothing.
    assert send_messages_job(db, clock, timeout=0.3) == 0
    # Logged with the delivery's id, never the number or the code.
    assert f"SMS delivery {waiting.id} through aliyun: retry" in caplog.text
    assert PLAIN not in caplog.text

    clock.advance(timedelta(seconds=10))
    assert send_messages_job(db, clock, timeout=0.3) == 1
    [sent] = deliveries(db)
    assert sent.status == "sent"
    assert sent.attempts == 2
    [code] = aliyun.sent_codes()
    assert verify(client, slug, code).status_code == 303


def test_after_the_last_attempt_the_participant_is_told_to_try_again(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, aliyun: Provider
) -> None:
    slug = _owner(client, brand, "aliyun")
    aliyun.slow, aliyun.delay = 99, 1.0
    ask_code(client, slug)
    page = client.get(f"/c/{slug}/me?sent=phone").text
    assert "短信没能发出" not in page  # on its way

    for _attempt in range(3):
        send_messages_job(db, clock, timeout=0.2)
        clock.advance(timedelta(minutes=2))
    [failed] = deliveries(db)
    assert failed.status == "failed"
    assert failed.attempts == 3
    assert failed.destination is None
    assert failed.params is None
    assert len(aliyun.requests) == 3
    assert send_messages_job(db, clock, timeout=0.2) == 0  # no fourth try

    again = client.get(f"/c/{slug}/me?sent=phone")
    assert again.status_code == 200
    assert "短信没能发出，请重新获取验证码再试一次。" in again.text
    # Not "we sent you a code" next to it: the request form says why, with phone chosen.
    assert "我们已向你发送" not in again.text
    assert 'value="phone" selected' in again.text

    # Asking again queues a fresh code, which the provider (back again) delivers.
    aliyun.slow = 0
    clock.advance(timedelta(minutes=10))
    assert ask_code(client, slug).status_code == 303
    assert "短信没能发出" not in client.get(f"/c/{slug}/me?sent=phone").text
    send_messages_job(db, clock)
    # (The provider may still have delivered the timed-out attempts late, each with the same
    # first code: the last request is the new one.)
    code = aliyun.requests[-1]["code"]
    assert aliyun.answers[-1]["ok"]
    assert verify(client, slug, code).status_code == 303


def test_a_flood_to_one_number_is_refused_by_its_daily_cap(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    slug = _owner(client, brand, "aliyun", daily_cap_per_number="3")
    # Each from another device (the per-participant limit is not what stops them).
    for _device in range(3):
        client.cookies.clear()
        assert ask_code(client, slug, "+86 138-0013-8000").status_code == 303
    client.cookies.clear()
    refused = ask_code(client, slug, PHONE)  # the same number, typed another way
    assert refused.status_code == 429
    assert "该号码今天获取验证码的次数已达上限，请明天再试。" in refused.text
    assert len(deliveries(db)) == 3
    # Another number is not held back by it.
    client.cookies.clear()
    assert ask_code(client, slug, "13900139000").status_code == 303


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A tight cap per network for these tests (the default is 20 an hour)."""
    return settings.model_copy(update={"sms_per_ip": "4/hour"})


def test_a_flood_from_one_network_is_refused_by_its_cap(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug = _owner(client, brand, "aliyun")
    for n in range(4):
        client.cookies.clear()
        assert ask_code(client, slug, f"1390013900{n}").status_code == 303
    client.cookies.clear()
    refused = ask_code(client, slug, "13900139009")
    assert refused.status_code == 429
    assert "来自你所在网络的短信请求过多，请稍后再试。" in refused.text
    assert len(deliveries(db)) == 4


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_a_wrong_secret_fails_at_once_with_a_clear_error_and_leaks_nothing(
    provider: str,
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    aliyun: Provider,
    tencent: Provider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = {"aliyun": aliyun, "tencent": tencent}[provider]
    wrong = "wrong-Secret-000000000000xyz9"
    slug = _owner(client, brand, provider, access_key_secret=wrong)
    ask_code(client, slug)
    with caplog.at_level(logging.DEBUG):
        send_messages_job(db, clock)
    code = fake.requests[0]["code"]
    [failed] = deliveries(db)
    # Retrying cannot fix a wrong key: failed after one attempt.
    assert failed.status == "failed"
    assert failed.attempts == 1
    assert (
        failed.provider_status
        == {
            "aliyun": "SignatureDoesNotMatch",
            "tencent": "AuthFailure.SignatureFailure",
        }[provider]
    )
    # Alibaba Cloud's message quotes the string it signed (the number and the code): cut.
    assert code not in (failed.error or "")
    assert PLAIN not in (failed.error or "")

    assert "短信没能发出" in client.get(f"/c/{slug}/me?sent=phone").text

    client.cookies.clear()
    assert login(client, brand.emails[Role.OWNER]) == 303
    console = client.get("/console/w/acme/messaging").text
    assert "服务商拒绝了 AccessKey：请检查上面的 AccessKey ID 和密钥。" in console
    audit = client.get("/console/w/acme/audit").text
    for text_seen in (console, audit, caplog.text):
        assert wrong not in text_seen
        assert code not in text_seen


def test_secrets_never_appear_in_pages_logs_or_the_database(
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    aliyun: Provider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        slug = _owner(client, brand, "aliyun")
        ask_code(client, slug)
        send_messages_job(db, clock)
        client.cookies.clear()
        assert login(client, brand.emails[Role.OWNER]) == 303
        pages = [
            client.get(path).text for path in ("/console/w/acme/messaging", "/console/w/acme/audit")
        ]
        exported = client.get("/console/w/acme/audit.csv")
    assert "…" + ALIYUN_SECRET[-4:] in pages[0]  # only its last four characters
    for seen in (*pages, caplog.text, exported.text):
        assert ALIYUN_SECRET not in seen
    with db.session() as session:
        stored = session.execute(text("SELECT access_key_secret FROM sms_settings")).scalar_one()
        audit = session.execute(text("SELECT before, after FROM audit_entries")).all()
    assert ALIYUN_SECRET not in stored  # encrypted at rest
    assert ALIYUN_SECRET not in json.dumps([list(map(str, row)) for row in audit])


def test_saving_again_with_a_blank_secret_keeps_the_stored_one(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, aliyun: Provider
) -> None:
    slug = _owner(client, brand, "aliyun")
    assert login(client, brand.emails[Role.OWNER]) == 303
    assert (
        set_provider(client, "aliyun", access_key_secret="", sign_name="新签名").status_code == 303
    )
    client.cookies.clear()
    ask_code(client, slug)
    send_messages_job(db, clock)
    assert aliyun.answers[0]["ok"]
    assert aliyun.requests[0]["params"]["SignName"] == "新签名"


def test_bad_settings_are_refused_with_a_message(client: TestClient, brand: Brand) -> None:
    assert login(client, brand.emails[Role.OWNER]) == 303
    no_secret = set_provider(client, "aliyun", access_key_secret="")
    assert no_secret.status_code == 422
    assert "请输入 AccessKey 密钥。" in no_secret.text
    no_app = set_provider(client, "tencent", app_id="")
    assert no_app.status_code == 422
    assert "腾讯云需要短信应用的 SdkAppId。" in no_app.text
    zero_cap = set_provider(client, "aliyun", daily_cap_per_number="0")
    assert zero_cap.status_code == 422
    bad_provider = set_provider(client, "aliyun", provider="twilio")
    assert bad_provider.status_code == 422


def test_only_the_owner_changes_the_account(client: TestClient, brand: Brand) -> None:
    assert login(client, brand.emails[Role.OWNER]) == 303
    assert set_provider(client, "aliyun").status_code == 303
    client.cookies.clear()
    assert login(client, brand.emails[Role.ANALYST]) == 303
    page = client.get("/console/w/acme/messaging")
    assert page.status_code == 200
    assert "阿里云短信" in page.text
    assert 'name="access_key_secret"' not in page.text
    client.cookies.clear()
    assert login(client, brand.emails[Role.EDITOR]) == 303
    assert client.get("/console/w/acme/messaging").status_code == 403


def test_without_a_provider_development_keeps_the_log_and_says_so(
    client: TestClient, brand: Brand, db: Database
) -> None:
    outbox = MemorySender()
    client.app.state.code_sender = outbox  # type: ignore[attr-defined]
    assert login(client, brand.emails[Role.OWNER]) == 303
    page = client.get("/console/w/acme/messaging").text
    assert "开发模式：验证码只写入服务器日志，不会发出" in page
    slug, _activity, _options = live_campaign(client, brand)
    client.cookies.clear()
    assert ask_code(client, slug).status_code == 303
    assert [(c, d) for c, d, _code in outbox.sent] == [("phone", PLAIN)]
    assert deliveries(db) == []


def test_two_senders_at_once_send_each_message_once(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, aliyun: Provider
) -> None:
    slug = _owner(client, brand, "aliyun")
    for n in range(3):
        client.cookies.clear()
        ask_code(client, slug, f"1370013700{n}")
    aliyun.slow, aliyun.delay = 99, 0.3  # both senders are inside the provider together
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        send_messages_job(db, clock)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(aliyun.requests) == 3
    assert sorted(r["params"]["PhoneNumbers"] for r in aliyun.requests) == [
        "13700137000",
        "13700137001",
        "13700137002",
    ]
    assert {d.status for d in deliveries(db)} == {"sent"}


def test_erasing_the_person_removes_their_delivery_log(
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    aliyun: Provider,
    tmp_path: Path,
) -> None:
    from im2.people import service as people
    from im2.privacy.erasure import erase_person

    slug = _owner(client, brand, "aliyun")
    ask_code(client, slug)
    send_messages_job(db, clock)
    verify(client, slug, aliyun.sent_codes()[0])
    client.cookies.clear()
    ask_code(client, slug, "13900139000")  # someone else
    [mine, theirs] = deliveries(db)
    with db.transaction() as session:
        person = people.person_of_participant(
            session, workspace_id=brand.workspace_id, participant_id=mine.participant_id
        )
        assert person is not None
        erase_person(
            session,
            workspace_id=brand.workspace_id,
            person_id=person,
            now=clock.now(),
            lake_path=tmp_path / "lake",
            media_path=tmp_path / "media",
            reason="test",
        )
    assert [d.id for d in deliveries(db)] == [theirs.id]


def test_requests_racing_to_one_number_get_exactly_its_cap(
    live_server: LiveServer, brand: Brand, db: Database, client: TestClient
) -> None:
    """Eight phones ask for a code to the same number at the same moment, with a cap of 3:
    three are queued and five are refused, whatever the interleaving."""
    assert login(client, brand.emails[Role.OWNER]) == 303
    assert set_provider(client, "aliyun", daily_cap_per_number="3").status_code == 303
    slug = live_server.live_campaign(brand)["slug"]
    phones = [httpx.Client(base_url=live_server.url, timeout=60) for _ in range(8)]
    tokens = [_form(phone, f"/c/{slug}/me", f"/c/{slug}/me/code") for phone in phones]  # type: ignore[arg-type]
    start = threading.Barrier(len(phones))
    statuses: list[int] = []

    def ask(phone: httpx.Client, token: str) -> None:
        start.wait()
        answer = phone.post(
            f"/c/{slug}/me/code",
            data={"channel": "phone", "destination": PHONE, "consent": "yes", "csrf_token": token},
            follow_redirects=False,
        )
        statuses.append(answer.status_code)

    threads = [threading.Thread(target=ask, args=pair) for pair in zip(phones, tokens, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for phone in phones:
        phone.close()
    assert sorted(statuses) == [303] * 3 + [429] * 5
    assert len(deliveries(db)) == 3


def test_a_secret_no_key_opens_fails_its_own_deliveries_only(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, aliyun: Provider
) -> None:
    """A key removed too early leaves one workspace's secret unreadable: its codes fail with
    a message saying what to do, and the other workspaces' codes still go out."""
    slug = _owner(client, brand, "aliyun")
    other = make_brand(db, slug="zeta", now=clock.now())
    assert login(client, other.emails[Role.OWNER]) == 303
    assert set_provider(client, "aliyun", workspace="zeta").status_code == 303
    client.cookies.clear()
    ask_code(client, slug)
    with db.transaction() as session:
        messaging.do_queue_code(
            session,
            workspace_id=other.workspace_id,
            participant_id=None,
            phone="13900139000",
            code="123456",
            caps=SmsCaps(per_ip="10/hour"),
            ip=None,
            now=clock.now(),
        )
        session.execute(
            text(
                "UPDATE sms_settings SET access_key_secret = 'not-a-token' WHERE workspace_id = :w"
            ),
            {"w": brand.workspace_id},
        )
    assert send_messages_job(db, clock) == 1
    mine, theirs = deliveries(db)
    assert mine.status == "failed"
    assert mine.error == (
        "a stored value opens with none of the configured keys: enter the secret again"
    )
    assert theirs.status == "sent"
    assert [r["params"]["PhoneNumbers"] for r in aliyun.requests] == ["13900139000"]


def test_two_first_saves_at_once_make_one_account(
    brand: Brand, db: Database, clock: ManualClock
) -> None:
    from im2.messaging.schemas import SmsProvider, SmsSettingsUpdate
    from im2.workspaces import service as workspaces

    with db.session() as session:
        actor = workspaces.system_actor(session, workspace_slug=brand.slug)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def save(sign_name: str) -> None:
        data = SmsSettingsUpdate(
            provider=SmsProvider.ALIYUN,
            access_key_id=ALIYUN_KEY_ID,
            access_key_secret=ALIYUN_SECRET,
            sign_name=sign_name,
            verify_template="SMS_1",
        )
        start.wait()
        try:
            with db.transaction() as session:
                messaging.do_save_sms_settings(session, actor=actor, data=data, now=clock.now())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(name,)) for name in ("甲", "乙")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session() as session:
        rows = session.execute(text("SELECT sign_name FROM sms_settings")).scalars().all()
    assert len(rows) == 1
    assert rows[0] in ("甲", "乙")


def test_a_server_sends_each_code_right_after_it_is_queued_without_a_tick(
    settings: Settings, db: Database, clock: ManualClock, brand: Brand, aliyun: Provider
) -> None:
    """With IM2_SMS_SEND_AT_ONCE (the default) the server sends a code as soon as it is
    queued: no scheduler runs here, so only that path can send. Codes queued while a slow
    send is under way are sent by the run after it, once each."""
    from im2.app import create_app

    app = create_app(settings.model_copy(update={"sms_send_at_once": True}), db=db, clock=clock)
    with TestClient(app, base_url="http://testserver") as client:
        slug = _owner(client, brand, "aliyun")
        aliyun.slow, aliyun.delay = 1, 1.5  # the first text takes the provider 1.5 s
        numbers = [f"1370013700{n}" for n in range(4)]
        for number in numbers:
            client.cookies.clear()
            assert ask_code(client, slug, number).status_code == 303
        # Sent once each and recorded (the answer is committed a moment after the provider's).
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and [d.status for d in deliveries(db)] != ["sent"] * 4:
            time.sleep(0.05)
        assert sorted(r["params"]["PhoneNumbers"] for r in aliyun.requests) == numbers
        assert {d.status for d in deliveries(db)} == {"sent"}
        assert send_messages_job(db, clock) == 0  # nothing left for the job
