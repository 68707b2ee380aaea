"""Console forms speak Chinese when they refuse: every bad field at once, in the catalog's
words (never pydantic's English), with what was typed still in the form."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, ValidationError

from im2.i18n import get_locale, set_locale
from im2.web.forms import validation_errors
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_auth import login
from tests.test_console import form_token
from tests.test_polls import live_campaign

PYDANTIC_ENGLISH = re.compile(
    r"Input should|List should|Value error|after validation|String should"
)


def _field_error(page: str, field: str) -> str:
    found = re.search(rf'id="{field}-error"[^>]*>(.*?)</', page, re.S)
    assert found, f"no error shown for {field}"
    return html.unescape(found.group(1)).strip()


def test_a_campaign_form_with_two_bad_fields_shows_both_in_chinese_and_keeps_the_input(
    client: TestClient, brand: Brand
) -> None:
    assert login(client, brand.emails[Role.OWNER]) == 303
    page, action = "/console/w/acme/campaigns/new?template=", "/console/w/acme/campaigns"
    refused = client.post(
        action,
        data={
            "csrf_token": form_token(client, page, action),
            "name": "",
            "slug": "spring-tasting",
            "description": "春季试饮会，欢迎到店",
            "objective": "engagement",
            "timezone": "Asia/Shanghai",
            "starts_at": "2026-04-01T10:00",
            "ends_at": "2026-04-10T22:00",
            "ch_weibo": "on",
            "media_weibo": "paid",
            "budget_weibo": "八千",
        },
    )
    assert refused.status_code == 422
    text = refused.text
    assert _field_error(text, "name") == "此项为必填。"
    assert _field_error(text, "channel_weibo") == "请输入数字。"
    assert not PYDANTIC_ENGLISH.search(text)
    assert 'value="spring-tasting"' in text
    assert "春季试饮会，欢迎到店" in text
    assert 'value="八千"' in text


def test_a_poll_without_options_says_how_many_it_needs(client: TestClient, brand: Brand) -> None:
    _slug, activity_id, _options = live_campaign(client, brand)
    campaign_id = client.get(
        f"/api/v1/activities/{activity_id}", headers=brand.auth(Role.OWNER)
    ).json()["campaign_id"]
    assert login(client, brand.emails[Role.EDITOR]) == 303
    page = f"/console/w/acme/campaigns/{campaign_id}/poll/new"
    action = f"/console/w/acme/campaigns/{campaign_id}/poll"
    refused = client.post(
        action,
        data={"csrf_token": form_token(client, page, action), "title": "门店评分", "options": ""},
    )
    assert refused.status_code == 422
    assert "至少需要 2 项" in _field_error(refused.text, "options")
    assert not PYDANTIC_ENGLISH.search(refused.text)
    assert 'value="门店评分"' in refused.text


class _Budget(BaseModel):
    items: list[str] = Field(min_length=2)
    amount: float
    rate: int = Field(le=10)


def test_pydantic_errors_are_translated_once_for_every_form() -> None:
    before = get_locale()
    set_locale("zh_CN")
    try:
        try:
            _Budget.model_validate({"items": [], "amount": "many", "rate": 11})
        except ValidationError as exc:
            errors = validation_errors(exc)
    finally:
        set_locale(before)
    assert errors == {"items": "至少需要 2 项。", "amount": "请输入数字。", "rate": "不能大于 10。"}
