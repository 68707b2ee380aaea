"""Shared steps of the WeChat tests: the owner saves the account in the console, a phone opens
pages inside WeChat."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_auth import login
from tests.wechat.conftest import APP_ID, APP_SECRET

WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800323a) NetType/WIFI"
)
SAFARI_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1"
)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


def save_account(
    client: TestClient,
    brand: Brand,
    *,
    app_id: str = APP_ID,
    secret: str = APP_SECRET,
    ask_userinfo: bool = False,
    role: Role = Role.OWNER,
) -> object:
    assert login(client, brand.emails[role]) == 303
    page = client.get(f"/console/w/{brand.slug}/wechat")
    data = {"csrf_token": csrf_of(page.text), "app_id": app_id, "app_secret": secret}
    if ask_userinfo:
        data["ask_userinfo"] = "on"
    return client.post(f"/console/w/{brand.slug}/wechat", data=data, follow_redirects=False)


def phone(app: FastAPI, user_agent: str = WECHAT_UA) -> TestClient:
    return TestClient(app, base_url="http://testserver", headers={"User-Agent": user_agent})
