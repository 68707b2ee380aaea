"""The console page of the official account: saving, the test against WeChat with a clear
error for a wrong secret, who may change it, and the secret never shown, logged or exported."""

from __future__ import annotations

import logging
import threading

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from im2.clock import ManualClock
from im2.db import Database
from im2.wechat import service
from im2.workspaces import service as workspaces
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_auth import login
from tests.test_polls import live_campaign
from tests.wechat.conftest import APP_ID, APP_SECRET, OTHER_SECRET, FakeWechat
from tests.wechat.helpers import csrf_of, phone, save_account
from tests.wechat.test_oauth import _sign_in


def _test(client: TestClient, brand: Brand) -> object:
    page = client.get(f"/console/w/{brand.slug}/wechat")
    return client.post(
        f"/console/w/{brand.slug}/wechat/test", data={"csrf_token": csrf_of(page.text)}
    )


def test_the_owner_saves_the_account_and_wechat_accepts_it(
    client: TestClient, brand: Brand, wechat: FakeWechat, db: Database
) -> None:
    saved = save_account(client, brand)
    assert saved.status_code == 303
    page = client.get(saved.headers["location"])
    assert "已保存" in page.text
    assert APP_ID in page.text
    assert APP_SECRET not in page.text
    tested = _test(client, brand)
    assert tested.status_code == 200
    assert "微信已接受该 AppID 和 AppSecret" in tested.text
    with db.session() as session:  # encrypted at rest: the column holds a Fernet token
        stored = session.execute(text("SELECT app_secret FROM wechat_accounts")).scalar_one()
    assert APP_SECRET not in stored
    assert stored.startswith("gAAAAA")
    # Saving again without a secret keeps the stored one (the box is always empty).
    page = client.get(f"/console/w/{brand.slug}/wechat")
    again = client.post(
        f"/console/w/{brand.slug}/wechat",
        data={"csrf_token": csrf_of(page.text), "app_id": APP_ID, "app_secret": ""},
        follow_redirects=False,
    )
    assert again.status_code == 303
    assert _test(client, brand).status_code == 200


def test_a_wrong_secret_or_appid_is_said_plainly(
    client: TestClient, brand: Brand, wechat: FakeWechat
) -> None:
    assert save_account(client, brand, secret=OTHER_SECRET).status_code == 303
    wrong = _test(client, brand)
    assert wrong.status_code == 422
    assert "微信拒绝了该 AppSecret" in wrong.text
    assert save_account(client, brand, app_id="wx00000000000000ff").status_code == 303
    unknown = _test(client, brand)
    assert unknown.status_code == 422
    assert "微信不认识这个 AppID" in unknown.text
    wechat.down = True
    down = _test(client, brand)
    assert down.status_code == 422
    assert "暂时无法连接微信" in down.text


@pytest.mark.parametrize(
    ("app_id", "secret", "field_message"),
    [
        ("gh_1234567890ab", APP_SECRET, "AppID 是 wx 加 16 位字母或数字"),
        ("wx1234567890abcdef", "short", "AppSecret 是 32 位字母或数字"),
        ("wx1234567890abcdef", "", "请填写 AppSecret"),
    ],
)
def test_malformed_values_are_refused_on_their_field(
    client: TestClient, brand: Brand, app_id: str, secret: str, field_message: str
) -> None:
    refused = save_account(client, brand, app_id=app_id, secret=secret)
    assert refused.status_code == 422
    assert field_message in refused.text


def test_only_the_owner_changes_the_account(client: TestClient, brand: Brand) -> None:
    assert login(client, brand.emails[Role.EDITOR]) == 303
    assert client.get(f"/console/w/{brand.slug}/wechat").status_code == 403
    assert save_account(client, brand, role=Role.ANALYST).status_code == 403


def test_the_secret_and_tokens_never_reach_logs_pages_or_exports(
    app: FastAPI,
    client: TestClient,
    brand: Brand,
    wechat: FakeWechat,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    slug, _poll, _options = live_campaign(client, brand)
    assert save_account(client, brand).status_code == 303
    assert _test(client, brand).status_code == 200
    alice = phone(app)
    pages = [alice.get(f"/c/{slug}").text, alice.get(f"/c/{slug}/share").text]
    pages.append(
        alice.get(f"/c/{slug}/wechat/card", params={"url": f"http://testserver/c/{slug}"}).text
    )
    _sign_in(alice, slug, wechat)
    pages += [
        client.get(f"/console/w/{brand.slug}/wechat").text,
        client.get(f"/console/w/{brand.slug}/audit").text,
        client.get("/api/v1/audit", headers=brand.auth(Role.OWNER)).text,
    ]
    secrets = [APP_SECRET, *wechat.tokens, *[f"OAUTH-TOKEN-{c}" for c in wechat.codes]]
    assert len(secrets) >= 3
    for secret in secrets:
        assert secret not in caplog.text, secret
        for page in pages:
            assert secret not in page
    assert "/cgi-bin/token?" in caplog.text  # httpx logged the calls, with the secrets blanked
    assert "secret=***" in caplog.text
    assert "wechat.account_set" in pages[-1]  # the audit entry is there, without the secret


def test_two_first_saves_at_once_make_one_account(
    db: Database, brand: Brand, clock: ManualClock
) -> None:
    with db.session() as session:
        owner = workspaces.system_actor(session, workspace_slug=brand.slug)
    app_ids = ["wx1111111111111111", "wx2222222222222222"]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def save(app_id: str) -> None:
        start.wait()
        try:
            with db.transaction() as session:
                service.do_set_account(
                    session,
                    actor=owner,
                    app_id=app_id,
                    app_secret=APP_SECRET,
                    ask_userinfo=False,
                    now=clock.now(),
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(a,)) for a in app_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    with db.session() as session:
        rows = session.execute(text("SELECT app_id FROM wechat_accounts")).scalars().all()
    assert len(rows) == 1
    assert rows[0] in app_ids
