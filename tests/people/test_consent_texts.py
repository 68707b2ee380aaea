"""The console editor of consent texts: per purpose and language (the languages of
im2.i18n.LOCALES), a preview that publishes nothing, versions that are only ever added, people
who agreed to an earlier version shown as such, the same through the API, and bad input."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from im2.clock import ManualClock
from im2.db import Database
from im2.i18n import LOCALES
from im2.people.consent.models import ConsentRecord, ConsentText
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.people.test_consent import _join
from tests.test_auth import csrf, login
from tests.test_polls import live_campaign

NEW_TEXT = (
    "山野咖啡会通过你在这里验证的手机号或邮箱，告诉你新品和优惠活动。你可以随时在“我的”页面撤回。"
)


def _editor(client: TestClient, brand: Brand, role: Role) -> tuple[TestClient, str]:
    browser = TestClient(client.app)
    assert login(browser, brand.emails[role]) == 303
    return browser, f"/console/w/{brand.slug}/privacy/consent-texts"


def _post(browser: TestClient, url: str, **data: str) -> Any:
    token = csrf(browser, f"{url}?purpose={data.get('purpose', '')}")
    return browser.post(url, data={**data, "csrf_token": token}, follow_redirects=False)


def _texts(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(ConsentText)) or 0)


def test_preview_publish_and_people_on_an_earlier_version(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    slug, _activity, _options = live_campaign(client, brand)
    # Someone agrees to marketing under IM2's own text before the brand writes its own.
    assert _join(client, slug, consent="yes", purpose="marketing").status_code == 303

    browser, url = _editor(client, brand, Role.EDITOR)
    page = browser.get(url)
    assert page.status_code == 200
    # One column per language the product speaks, every purpose a row, IM2's texts shown.
    for language in LOCALES:
        for purpose in ("taking_part", "marketing", "third_party", "profiling"):
            assert f'id="text-{purpose}-{language}"' in page.text
    assert "授权文本" in page.text
    assert "IM2 默认文本" in page.text

    marketing = browser.get(f"{url}?purpose=marketing&language=zh_CN").text
    assert "营销联系" in marketing
    assert "验证" in marketing  # IM2's own marketing text, in Chinese

    # A preview shows the draft as the participant would see it and publishes nothing; a
    # half-width comma between Chinese characters is pointed out.
    draft = "山野咖啡会联系你,告诉你新品。"
    preview = _post(
        browser, url, purpose="marketing", language="zh_CN", text=draft, action="preview"
    )
    assert preview.status_code == 200
    body = preview.text
    assert draft in body
    assert "尚未发布" in body
    assert 'id="half-width"' in body
    assert _texts(db) == 0

    clock.advance(timedelta(minutes=1))
    published = _post(
        browser, url, purpose="marketing", language="zh_CN", text=NEW_TEXT, action="publish"
    )
    assert published.status_code == 303, published.text
    after = browser.get(published.headers["location"]).text
    assert "版本 v1 已发布" in after
    assert NEW_TEXT in after
    # The old version stays listed, with the one person who agreed to it.
    rows = re.findall(r'<tr id="version-([^"]+)">(.*?)</tr>', after, flags=re.S)
    assert [v for v, _row in rows] == ["v1", "2026-12"]
    agreed = {v: re.search(r'class="num">(\d+)<', row).group(1) for v, row in rows}  # type: ignore[union-attr]
    assert agreed == {"v1": "0", "2026-12": "1"}
    assert 'id="older-agreed"' in after
    # The participant's page shows the new text from now on …
    assert NEW_TEXT in client.get(f"/c/{slug}/me").text
    # … and the person's consent still names the version they saw, marked as an earlier one.
    with db.session() as session:
        person_id = session.scalars(
            select(ConsentRecord.person_id).where(ConsentRecord.purpose == "marketing")
        ).one()
    states = client.get(
        f"/api/v1/people/{person_id}/consents", headers=brand.auth(Role.OWNER)
    ).json()["states"]
    marketing_state = next(s for s in states if s["purpose"] == "marketing")
    assert (marketing_state["version"], marketing_state["current_version"]) == ("2026-12", False)
    profile = browser.get(f"/console/w/{brand.slug}/people/{person_id}").text
    assert "旧版本" in profile

    # The same through the API: the versions with their counts, and a second version.
    listed = client.get(
        "/api/v1/consent-texts/versions?purpose=marketing&language=zh_CN",
        headers=brand.auth(Role.ANALYST),
    )
    assert listed.status_code == 200, listed.text
    assert [(v["version"], v["current"], v["agreed"]) for v in listed.json()] == [
        ("v1", True, 0),
        ("2026-12", False, 1),
    ]
    second = client.post(
        "/api/v1/consent-texts",
        json={"purpose": "marketing", "language": "zh_CN", "text": NEW_TEXT + "（第二版）"},
        headers=brand.auth(Role.EDITOR),
    )
    assert second.status_code == 201, second.text
    assert second.json()["version"] == "v2"
    assert _texts(db) == 2
    checked = client.post(
        "/api/v1/consent-texts/preview",
        json={"purpose": "marketing", "language": "zh_CN", "text": "好的,谢谢!"},
        headers=brand.auth(Role.ANALYST),
    )
    assert checked.status_code == 200, checked.text
    assert checked.json()["half_width_marks"] == [",", "!"]


def test_roles_and_bad_input(client: TestClient, brand: Brand, db: Database) -> None:
    # The console's privacy area is for people who may read people (owners, editors); an
    # analyst's token still reads the texts through the API.
    analyst, url = _editor(client, brand, Role.ANALYST)
    assert analyst.get(f"{url}?purpose=profiling&language=en").status_code == 403
    token = csrf(analyst, "/console")
    refused = analyst.post(
        url,
        data={
            "purpose": "profiling",
            "language": "en",
            "text": "x",
            "action": "publish",
            "csrf_token": token,
        },
    )
    assert refused.status_code == 403
    assert _texts(db) == 0

    editor, _url = _editor(client, brand, Role.EDITOR)
    empty = _post(editor, url, purpose="profiling", language="en", text="   ", action="publish")
    assert empty.status_code == 422
    unknown = _post(editor, url, purpose="profiling", language="fr", text="Hi", action="publish")
    assert unknown.status_code == 422
    assert "zh_CN" in unknown.text  # the languages to choose from
    too_long = _post(
        editor, url, purpose="profiling", language="en", text="x" * 4001, action="publish"
    )
    assert too_long.status_code == 422
    assert _texts(db) == 0
    api = client.get(
        "/api/v1/consent-texts/versions?purpose=nonsense", headers=brand.auth(Role.OWNER)
    )
    assert api.status_code == 422
    assert (
        client.get(
            "/api/v1/consent-texts/versions?purpose=marketing&language=fr",
            headers=brand.auth(Role.OWNER),
        ).status_code
        == 422
    )
