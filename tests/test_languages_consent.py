"""Consent texts per language on a campaign's pages (issue #22): a visitor reads the brand's text
in the page's language; where the brand wrote none in it, its text in the campaign's default
language (not IM2's generic one), and agreeing to that records that text."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from im2.db import Database
from im2.people.consent.models import ConsentRecord
from im2.workspaces.schemas import Role
from tests.conftest import Brand, go_live

BRAND_ZH = "品牌的参与条款：我们只用你的昵称展示排行。"
BRAND_EN = "Our terms: only your nickname is shown on the leaderboard."


def _join(client: TestClient, slug: str, accept: str) -> Any:
    page = client.get(f"/c/{slug}/me", headers={"Accept-Language": accept}).text
    form = re.search(rf'<form[^>]*action="/c/{slug}/me/join".*?</form>', page, flags=re.S)
    assert form is not None, page[:2000]
    fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form.group(0)))
    return client.post(
        f"/c/{slug}/me/join",
        data={**fields, "consent": "yes"},
        headers={"Accept-Language": accept},
        follow_redirects=False,
    )


def _write(client: TestClient, brand: Brand, language: str, text: str) -> None:
    added = client.post(
        "/api/v1/consent-texts",
        json={"purpose": "taking_part", "language": language, "text": text},
        headers=brand.auth(Role.OWNER),
    )
    assert added.status_code == 201, added.text


def test_consent_text_follows_the_page_language_then_the_campaign_default(
    client: TestClient, brand: Brand, db: Database
) -> None:
    go_live(client, brand, slug="bi", languages=["zh-CN", "en"], default_language="zh-CN")
    english = {"Accept-Language": "en-US"}
    # Nothing written by the brand: IM2's own text, in English.
    assert BRAND_ZH not in client.get("/c/bi/me", headers=english).text

    _write(client, brand, "zh_CN", BRAND_ZH)
    page = client.get("/c/bi/me", headers=english).text
    assert '<html lang="en">' in page
    assert BRAND_ZH in page  # the brand's terms, in the campaign's default language
    assert _join(client, "bi", "en-US").status_code == 303
    with db.session() as session:
        record = session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)).first()
        assert record is not None
        assert (record.language, record.version) == ("zh_CN", "v1")

    _write(client, brand, "en", BRAND_EN)
    client.cookies.clear()  # a new visitor, who has not joined yet
    page = client.get("/c/bi/me", headers=english).text
    assert BRAND_EN in page
    assert BRAND_ZH not in page
    chinese = client.get("/c/bi/me", headers={"Accept-Language": "zh-CN"}).text
    assert BRAND_ZH in chinese
    assert BRAND_EN not in chinese
