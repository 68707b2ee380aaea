"""The consent box of a first action shows the brand's own "taking part" text (issue #20): the
activity page's form, the campaign page, 我的, 我的数据 and the widget's JSON all say what the
brand wrote for the page's language (a Traditional Chinese page, where the brand wrote only
Simplified Chinese, falls back to the campaign's default language), and the first vote records
that very text (its version, language and hash). Without a brand text, IM2's shipped text shows
and is recorded as before. The text is read once per page, not once per form."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import event, select

from im2.db import Database
from im2.people.consent.models import ConsentRecord
from im2.workspaces.schemas import Role
from tests.conftest import Brand, go_live
from tests.test_polls import POLL, page_form, vote_url

BRAND_TEXT = "山野咖啡的参与说明：我们只保存你的投票和一个随机设备标识，活动结束三十天后删除。"
TRADITIONAL_TEXT = "山野咖啡的參與說明：我們只保存你的投票和一個隨機裝置標識。"
# The opening of IM2's own shipped text in Simplified Chinese (its catalog translation).
SHIPPED_ZH = "参与活动时，我们会在 Cookie 中保存一个随机设备标识"
ZH_CN = {"Accept-Language": "zh-CN"}
_SHA = re.compile(r'name="(consent_sha256)" value="([^"]+)"')
ZH_TW = {"Accept-Language": "zh-TW"}


def _campaign(client: TestClient, brand: Brand) -> tuple[str, int, list[int]]:
    """A live campaign in Simplified (its default), Traditional Chinese and English, with a
    poll: (slug, poll id, option ids)."""
    campaign = go_live(client, brand, languages=["zh-CN", "zh-TW", "en"], default_language="zh-CN")
    auth = brand.auth(Role.OWNER)
    created = client.post(f"/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=auth)
    assert created.status_code == 201, created.text
    results = client.get(f"/api/v1/polls/{created.json()['id']}/results", headers=auth).json()
    return campaign["slug"], created.json()["id"], [o["id"] for o in results["options"]]


def _write(client: TestClient, brand: Brand, language: str, text: str) -> None:
    added = client.post(
        "/api/v1/consent-texts",
        json={"purpose": "taking_part", "language": language, "text": text},
        headers=brand.auth(Role.OWNER),
    )
    assert added.status_code == 201, added.text


def _taking_part(db: Database) -> list[tuple[str, str | None, str | None, str]]:
    with db.session() as session:
        rows = session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.purpose == "taking_part")
            .order_by(ConsentRecord.id)
        )
        return [(r.version, r.language, r.text_sha256, r.channel) for r in rows]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@contextmanager
def _text_reads(db: Database) -> Iterator[list[str]]:
    """The statements that read consent texts while the block runs."""
    seen: list[str] = []

    def before(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "FROM consent_texts" in statement:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def test_every_consent_box_shows_the_brands_text_and_the_vote_records_it(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, activity_id, options = _campaign(client, brand)
    _write(client, brand, "zh_CN", BRAND_TEXT)
    page_url = f"/c/{slug}/poll/{activity_id}"

    # A visitor who has not joined reads the brand's text on every page that asks consent.
    page = client.get(page_url, headers=ZH_CN).text
    assert BRAND_TEXT in page
    assert SHIPPED_ZH not in page
    assert BRAND_TEXT in client.get(f"/c/{slug}", headers=ZH_CN).text
    me = client.get(f"/c/{slug}/me", headers=ZH_CN).text
    assert BRAND_TEXT in me
    assert SHIPPED_ZH not in me  # neither in the nickname box nor in the join form
    my_data = client.get(f"/c/{slug}/my-data", headers=ZH_CN).text
    assert BRAND_TEXT in my_data
    assert SHIPPED_ZH not in my_data
    widget = client.get(
        f"/api/v1/public/campaigns/{slug}/activities/{activity_id}", headers=ZH_CN
    ).json()
    assert (widget["needs_consent"], widget["consent_text"]) == (True, BRAND_TEXT)

    # A Traditional Chinese page: the brand wrote none in it, so its Simplified text shows
    # (the campaign's default language), not IM2's generic one.
    traditional = client.get(page_url, headers=ZH_TW).text
    assert '<html lang="zh-TW">' in traditional
    assert BRAND_TEXT in traditional

    # The first vote (the page's form) records the text the box showed.
    fields = page_form(client, page_url)
    voted = client.post(
        f"{page_url}/vote",
        data={**fields, "option": str(options[0]), "consent": "yes"},
        headers=ZH_CN,
        follow_redirects=False,
    )
    assert voted.status_code == 303, voted.text
    assert _taking_part(db) == [("v1", "zh_CN", _sha(BRAND_TEXT), "action")]
    # Joined: the box is gone, and the widget no longer asks.
    assert BRAND_TEXT not in client.get(page_url, headers=ZH_CN).text

    # A phone on the Traditional page votes through the widget's JSON (the group commit):
    # it read the Simplified text, and that is what is recorded.
    other = TestClient(client.app)
    json_vote = other.post(
        vote_url(slug, activity_id), json={"options": [options[1]], "consent": True}, headers=ZH_TW
    )
    assert json_vote.status_code == 201, json_vote.text
    assert _taking_part(db)[1] == ("v1", "zh_CN", _sha(BRAND_TEXT), "action")

    # Once the brand writes a Traditional text, a Traditional page shows and records it.
    _write(client, brand, "zh_TW", TRADITIONAL_TEXT)
    third = TestClient(client.app)
    shown = third.get(page_url, headers=ZH_TW).text
    assert TRADITIONAL_TEXT in shown
    assert BRAND_TEXT not in shown
    fields = page_form(third, page_url)
    assert (
        third.post(
            f"{page_url}/vote",
            data={**fields, "option": str(options[2]), "consent": "yes"},
            headers=ZH_TW,
            follow_redirects=False,
        ).status_code
        == 303
    )
    assert _taking_part(db)[2] == ("v1", "zh_TW", _sha(TRADITIONAL_TEXT), "action")


def test_without_a_brand_text_ims_own_text_shows_and_is_recorded(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, activity_id, options = _campaign(client, brand)
    page_url = f"/c/{slug}/poll/{activity_id}"
    page = client.get(page_url, headers=ZH_CN).text
    assert SHIPPED_ZH in page
    assert SHIPPED_ZH in client.get(f"/c/{slug}", headers=ZH_CN).text
    widget = client.get(
        f"/api/v1/public/campaigns/{slug}/activities/{activity_id}", headers=ZH_CN
    ).json()
    assert SHIPPED_ZH in widget["consent_text"]
    fields = page_form(client, page_url)
    voted = client.post(
        f"{page_url}/vote",
        data={**fields, "option": str(options[0]), "consent": "yes"},
        headers=ZH_CN,
        follow_redirects=False,
    )
    assert voted.status_code == 303, voted.text
    [(version, language, sha, channel)] = _taking_part(db)
    assert (version, language, channel) == ("2026-03", "zh_CN", "action")
    assert sha == _sha(widget["consent_text"])


def test_the_text_is_read_once_per_page(client: TestClient, brand: Brand, db: Database) -> None:
    slug, activity_id, _options = _campaign(client, brand)
    _write(client, brand, "zh_CN", BRAND_TEXT)
    page_url = f"/c/{slug}/poll/{activity_id}"
    with _text_reads(db) as reads:
        assert BRAND_TEXT in client.get(page_url, headers=ZH_CN).text
    assert len(reads) == 1  # the page's language has a text: one read
    with _text_reads(db) as reads:
        assert BRAND_TEXT in client.get(page_url, headers=ZH_TW).text
    assert len(reads) == 1  # none in the page's language: it and the default language, at once


def test_a_text_replaced_after_the_page_was_shown_is_read_again(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, activity_id, options = _campaign(client, brand)
    _write(client, brand, "zh_CN", BRAND_TEXT)
    page_url = f"/c/{slug}/poll/{activity_id}"
    fields = page_form(client, page_url)  # the visitor reads version v1 …
    read = dict(_SHA.findall(client.get(page_url).text))
    assert read == {"consent_sha256": _sha(BRAND_TEXT)}
    newer = BRAND_TEXT + "（第二版：也保存你的昵称）"
    _write(client, brand, "zh_CN", newer)  # … while the brand publishes v2
    page = client.get(page_url).text
    shown = dict(_SHA.findall(page))
    assert shown == {"consent_sha256": _sha(newer)}
    refused = client.post(
        f"{page_url}/vote",
        data={**fields, **read, "option": str(options[0]), "consent": "yes"},
        headers=ZH_CN,
        follow_redirects=False,
    )
    # The box ticked under v1: refused, nothing stored, the new text shown to read.
    assert refused.status_code == 422
    assert "你同意的说明已更新，请重新阅读。" in refused.text
    assert newer in refused.text
    assert _taking_part(db) == []
    agreed = client.post(
        f"{page_url}/vote",
        data={**fields, **shown, "option": str(options[0]), "consent": "yes"},
        headers=ZH_CN,
        follow_redirects=False,
    )
    assert agreed.status_code == 303, agreed.text
    assert _taking_part(db) == [("v2", "zh_CN", _sha(newer), "action")]


def test_the_pages_own_language_wins_over_a_newer_default_language_text(
    client: TestClient, brand: Brand
) -> None:
    slug, activity_id, _options = _campaign(client, brand)
    _write(client, brand, "zh_TW", TRADITIONAL_TEXT)
    _write(client, brand, "zh_CN", BRAND_TEXT)  # newer, but in the default language
    page_url = f"/c/{slug}/poll/{activity_id}"
    traditional = client.get(page_url, headers=ZH_TW).text
    assert TRADITIONAL_TEXT in traditional
    assert BRAND_TEXT not in traditional
    assert BRAND_TEXT in client.get(page_url, headers=ZH_CN).text
    # English: no English text, so the campaign's default language's newest text.
    assert BRAND_TEXT in client.get(page_url, headers={"Accept-Language": "en"}).text
