"""WeChat web OAuth against the local WeChat: the redirect as WeChat documents it, the code
exchanged once, the OpenID (and UnionID) bound to the visitor's person, two devices with one
WeChat becoming one person, and every forged or replayed step refused with a clear 4xx."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from im2.db import Database
from im2.people import service as people
from im2.people.schemas import IdentityKind
from tests.conftest import Brand
from tests.test_polls import live_campaign, vote_url
from tests.wechat.conftest import APP_ID, FakeWechat, WechatUser
from tests.wechat.helpers import phone, save_account


def _sign_in(browser: TestClient, slug: str, wechat: FakeWechat, next_path: str = "") -> str:
    """Open the sign-in, let WeChat's page send the browser back, follow it home; returns where
    the visitor ended up."""
    query = {"next": next_path} if next_path else {}
    leave = browser.get(f"/c/{slug}/wechat/login", params=query, follow_redirects=False)
    assert leave.status_code == 302, leave.text
    target = leave.headers["location"]
    assert target.startswith(f"{wechat.url}/connect/oauth2/authorize?appid={APP_ID}&")
    assert target.endswith("#wechat_redirect")
    # The browser drops the fragment; WeChat's page answers with the redirect to the callback.
    back = httpx.get(target.split("#", 1)[0], follow_redirects=False)
    assert back.status_code == 302
    callback = urlsplit(back.headers["location"])
    assert f"{callback.scheme}://{callback.netloc}{callback.path}" == (
        f"http://testserver/c/{slug}/wechat/callback"
    )
    home = browser.get(f"{callback.path}?{callback.query}", follow_redirects=False)
    assert home.status_code == 303, home.text
    return home.headers["location"]


def _person(db: Database, brand: Brand, kind: IdentityKind, value: str) -> int | None:
    with db.session() as session:
        return people.find_person(session, workspace_id=brand.workspace_id, kind=kind, value=value)


def test_the_redirect_carries_wechats_parameters_in_wechats_order(
    app: FastAPI, client: TestClient, brand: Brand, wechat: FakeWechat
) -> None:
    slug, _poll, _options = live_campaign(client, brand)
    assert save_account(client, brand).status_code == 303
    alice = phone(app)
    alice.get(f"/c/{slug}")
    long_next = f"/c/{slug}/poll/1?ch=moments&" + "&".join(f"utm_{i}=x" for i in range(40))
    leave = alice.get(f"/c/{slug}/wechat/login", params={"next": long_next}, follow_redirects=False)
    target = leave.headers["location"]
    query = urlsplit(target.split("#", 1)[0]).query
    pairs = parse_qsl(query)
    assert [k for k, _v in pairs] == ["appid", "redirect_uri", "response_type", "scope", "state"]
    values = dict(pairs)
    assert values["appid"] == APP_ID
    assert values["redirect_uri"] == f"http://testserver/c/{slug}/wechat/callback"
    assert f"redirect_uri=http%3A%2F%2Ftestserver%2Fc%2F{slug}%2Fwechat%2Fcallback&" in query
    assert values["response_type"] == "code"
    assert values["scope"] == "snsapi_base"
    assert len(values["state"]) <= 128  # WeChat's limit, however long the page's address


def test_signing_in_binds_the_openid_and_two_devices_become_one_person(
    app: FastAPI, client: TestClient, brand: Brand, wechat: FakeWechat, db: Database
) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    assert save_account(client, brand).status_code == 303
    wechat.user = WechatUser("oOpenId-alice-phone-000001", unionid="oUnion-alice-0000000001")
    # Alice votes on her phone, then signs in with WeChat there.
    phone_a = phone(app)
    phone_a.get(f"/c/{slug}")
    assert (
        phone_a.post(
            vote_url(slug, poll_id), json={"options": [options[0]], "consent": True}
        ).status_code
        == 201
    )
    assert _sign_in(phone_a, slug, wechat, f"/c/{slug}?ch=moments") == f"/c/{slug}?ch=moments"
    first = _person(db, brand, IdentityKind.WECHAT_OPENID, "oOpenId-alice-phone-000001")
    assert first is not None
    assert _person(db, brand, IdentityKind.WECHAT_UNIONID, "oUnion-alice-0000000001") == first
    with db.session() as session:
        count_before = people.count_people(session, workspace_id=brand.workspace_id)
    # Her tablet: a new device, a new person, until she signs in with the same WeChat.
    tablet = phone(app)
    tablet.get(f"/c/{slug}")
    assert (
        tablet.post(
            vote_url(slug, poll_id), json={"options": [options[1]], "consent": True}
        ).status_code
        == 201
    )
    with db.session() as session:
        assert people.count_people(session, workspace_id=brand.workspace_id) == count_before + 1
    _sign_in(tablet, slug, wechat)
    with db.session() as session:
        assert people.count_people(session, workspace_id=brand.workspace_id) == count_before
    assert wechat.errors == []
    # The sign-in is remembered: the card no longer sends this browser to WeChat.
    card = tablet.get(f"/c/{slug}/wechat/card", params={"url": f"http://testserver/c/{slug}"})
    assert card.json()["login"] is None


def test_a_device_that_signs_in_before_taking_part_joins_as_the_same_person(
    app: FastAPI, client: TestClient, brand: Brand, wechat: FakeWechat, db: Database
) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    assert save_account(client, brand).status_code == 303
    wechat.user = WechatUser("oOpenId-bob-000000000000001")
    bob = phone(app)
    bob.get(f"/c/{slug}")
    card = bob.get(f"/c/{slug}/wechat/card", params={"url": f"http://testserver/c/{slug}"})
    assert card.json()["login"] == f"/c/{slug}/wechat/login?next=/c/{slug}"
    _sign_in(bob, slug, wechat)
    signed_in = _person(db, brand, IdentityKind.WECHAT_OPENID, "oOpenId-bob-000000000000001")
    assert signed_in is not None
    voted = bob.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    assert voted.status_code == 201
    with db.session() as session:  # the participant joined the person who signed in
        assert people.count_people(session, workspace_id=brand.workspace_id) == 1
        participant = session.execute(text("SELECT id FROM participants")).scalar_one()
        assert (
            people.person_of_participant(
                session, workspace_id=brand.workspace_id, participant_id=participant
            )
            == signed_in
        )


def test_userinfo_names_the_participant_when_the_brand_asks(
    app: FastAPI, client: TestClient, brand: Brand, wechat: FakeWechat, db: Database
) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    assert save_account(client, brand, ask_userinfo=True).status_code == 303
    wechat.user = WechatUser(
        "oOpenId-carol-00000000000001", unionid="oUnion-carol-1", nickname="小卡"
    )
    carol = phone(app)
    carol.get(f"/c/{slug}")
    carol.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    leave = carol.get(f"/c/{slug}/wechat/login", follow_redirects=False)
    assert "scope=snsapi_userinfo" in leave.headers["location"]
    _sign_in(carol, slug, wechat)
    assert wechat.count("/sns/userinfo") == 1
    assert _person(db, brand, IdentityKind.WECHAT_UNIONID, "oUnion-carol-1") is not None
    with db.session() as session:
        assert session.execute(text("SELECT nickname FROM participants")).scalar_one() == "小卡"
    assert wechat.errors == []


def test_forged_stale_foreign_or_replayed_sign_ins_are_refused_clearly(
    app: FastAPI, client: TestClient, brand: Brand, wechat: FakeWechat, db: Database
) -> None:
    slug, _poll, _options = live_campaign(client, brand)
    assert save_account(client, brand).status_code == 303
    alice = phone(app)
    alice.get(f"/c/{slug}")
    leave = alice.get(f"/c/{slug}/wechat/login", follow_redirects=False).headers["location"]
    back = httpx.get(leave.split("#", 1)[0], follow_redirects=False).headers["location"]
    callback = urlsplit(back)
    params = dict(parse_qsl(callback.query))
    # Another browser cannot use Alice's code and state (login CSRF).
    mallory = phone(app)
    mallory.get(f"/c/{slug}")
    stolen = mallory.get(callback.path, params=params)
    assert stolen.status_code == 422
    assert "另一个浏览器中发起" in stolen.text
    # A state this server did not sign.
    forged = alice.get(callback.path, params={**params, "state": "forged.state"})
    assert forged.status_code == 422
    assert "登录链接无效" in forged.text
    # The real one works once; WeChat refuses the code the second time, and so do we.
    assert alice.get(callback.path, params=params, follow_redirects=False).status_code == 303
    again = alice.get(callback.path, params=params)
    assert again.status_code == 422
    assert "已被使用" in again.text
    # WeChat unreachable: asked to try again, nothing bound.
    wechat.down = True
    down = alice.get(callback.path, params={**params, "code": "CODE999999"})
    assert down.status_code == 503
    assert "暂时无法连接微信，请稍后再试" in down.text
    assert alice.get(f"/c/{slug}/wechat/callback").status_code == 422  # no state at all
