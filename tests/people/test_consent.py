"""Consent by purpose: each purpose granted and withdrawn on its own, with the text version
shown; a withdrawal takes effect at once; the minors gate stores nothing without a guardian."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from im2.clock import ManualClock
from im2.db import Database
from im2.people.consent import service as consents
from im2.people.consent.models import ConsentRecord
from im2.people.consent.schemas import Purpose
from im2.people.models import Person
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.people.helpers import me_post
from tests.test_polls import live_campaign, vote_url

JOIN_ALL = {"consent": "yes"}


def _join_form(client: TestClient, slug: str) -> dict[str, str]:
    """The hidden fields of the join form (CSRF token and the text versions shown)."""
    page = client.get(f"/c/{slug}/me").text
    form = re.search(rf'<form[^>]*action="/c/{slug}/me/join".*?</form>', page, flags=re.S)
    assert form is not None, page[:2000]
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form.group(0)))


def _join(client: TestClient, slug: str, **extra: Any) -> Any:
    fields = _join_form(client, slug)
    data = {**fields, **extra}
    return client.post(f"/c/{slug}/me/join", data=data, follow_redirects=False)


def _records(db: Database) -> list[ConsentRecord]:
    with db.session() as session:
        rows = list(session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)))
        session.expunge_all()
    return rows


def _count(db: Database, table: str) -> int:
    with db.session() as session:
        return int(session.execute(select(func.count()).select_from(_table(table))).scalar_one())


def _table(name: str) -> Any:
    from im2.db import Base

    return Base.metadata.tables[name]


def _people_consenting(db: Database, workspace_id: int, purpose: Purpose) -> set[int]:
    with db.session() as session:
        return set(
            session.scalars(
                select(Person.id).where(
                    Person.workspace_id == workspace_id,
                    consents.consented(session, workspace_id=workspace_id, purpose=purpose),
                )
            )
        )


def test_each_purpose_is_granted_on_its_own_with_the_text_shown(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, _activity, _options = live_campaign(client, brand)
    page = client.get(f"/c/{slug}/me").text
    # The four purposes, in Chinese, each with its own box; only taking part is required.
    for name in ("参与活动", "营销联系", "向第三方提供", "个性化与画像"):
        assert name in page
    assert len(re.findall(r'name="consent" value="yes" required', page)) >= 1
    assert 'name="purpose" value="marketing"' in page
    assert re.search(r'name="purpose" value="marketing"[^>]*required', page) is None

    # Declining everything optional still lets the person take part (PIPL Art. 16).
    joined = _join(client, slug, consent="yes", purpose="profiling")
    assert joined.status_code == 303, joined.text[:800]
    rows = _records(db)
    assert sorted(r.purpose for r in rows) == ["profiling", "taking_part"]
    taking = next(r for r in rows if r.purpose == "taking_part")
    assert taking.channel == "my_page"
    assert taking.language == "zh_CN"
    assert taking.given_by == "self"
    assert taking.withdrawn_at is None
    # The hash is of the very text the page showed, in Chinese.
    shown = re.search(r"<strong>参与活动</strong>.*?<p>(.*?)</p>", page, flags=re.S)
    assert shown is not None
    text = shown.group(1).replace("&#39;", "'").replace("&amp;", "&")
    assert taking.text_sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert taking.version == "2026-03"


def test_joining_by_an_activity_records_taking_part_only(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, activity_id, options = live_campaign(client, brand)
    voted = client.post(
        vote_url(slug, activity_id), json={"options": [options[0]], "consent": True}
    )
    assert voted.status_code == 201, voted.text
    rows = _records(db)
    assert [(r.purpose, r.channel, r.version) for r in rows] == [
        ("taking_part", "action", "2026-03")
    ]


def test_withdrawal_takes_effect_at_once_and_a_new_grant_restores(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, _activity, _options = live_campaign(client, brand)
    assert _join(client, slug, consent="yes", purpose="profiling").status_code == 303
    other = TestClient(client.app)  # a second phone: never answered about profiling
    assert _join(other, slug, consent="yes").status_code == 303
    with db.session() as session:
        everyone = set(session.scalars(select(Person.id)))
    assert len(everyone) == 2
    assert _people_consenting(db, brand.workspace_id, Purpose.PROFILING) == everyone

    page = client.get(f"/c/{slug}/me").text
    assert "我的授权" in page
    withdrawn = me_post(client, slug, "consents", {"purpose": "profiling", "action": "withdraw"})
    assert withdrawn.status_code == 303
    mine = next(r.person_id for r in _records(db) if r.purpose == "profiling")
    # The very next query leaves the person out, the other phone's person stays.
    assert _people_consenting(db, brand.workspace_id, Purpose.PROFILING) == everyone - {mine}
    assert "已撤回" in client.get(f"/c/{slug}/me").text

    version = re.search(
        r'name="purpose" value="profiling">\s*<input type="hidden" name="version" value="([^"]+)"',
        client.get(f"/c/{slug}/me").text,
    )
    assert version is not None
    again = me_post(
        client,
        slug,
        "consents",
        {"purpose": "profiling", "action": "grant", "version": version.group(1)},
    )
    assert again.status_code == 303
    assert _people_consenting(db, brand.workspace_id, Purpose.PROFILING) == everyone
    # The history stays: the withdrawn grant and the new one.
    profiling = [r for r in _records(db) if r.purpose == "profiling"]
    assert [r.withdrawn_at is not None for r in profiling] == [True, False]


def test_withdrawing_marketing_never_given_is_recorded_as_a_refusal(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, _activity, _options = live_campaign(client, brand)
    assert _join(client, slug, consent="yes").status_code == 303
    assert me_post(client, slug, "consents", {"purpose": "marketing", "action": "withdraw"})
    assert _people_consenting(db, brand.workspace_id, Purpose.MARKETING) == set()
    with db.session() as session:
        granted = set(
            session.scalars(
                select(Person.id).where(
                    consents.granted(
                        session, workspace_id=brand.workspace_id, purpose=Purpose.TAKING_PART
                    )
                )
            )
        )
    assert len(granted) == 1


def test_a_new_text_version_is_shown_and_recorded_old_grants_keep_theirs(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, _activity, _options = live_campaign(client, brand)
    first = TestClient(client.app)
    assert _join(first, slug, consent="yes", purpose="marketing").status_code == 303
    added = client.post(
        "/api/v1/consent-texts",
        json={"purpose": "marketing", "language": "zh_CN", "text": "品牌会通过短信告诉你新品。"},
        headers=brand.auth(Role.OWNER),
    )
    assert added.status_code == 201, added.text
    assert added.json()["version"] == "v1"
    assert "品牌会通过短信告诉你新品。" in client.get(f"/c/{slug}/me").text
    assert _join(client, slug, consent="yes", purpose="marketing").status_code == 303
    versions = [r.version for r in _records(db) if r.purpose == "marketing"]
    assert versions == ["2026-12", "v1"]
    texts = client.get("/api/v1/consent-texts", headers=brand.auth(Role.VIEWER)).json()
    assert texts[0]["version"] == "v1"
    # Bad input names the field; an analyst may not write texts.
    bad = client.post(
        "/api/v1/consent-texts",
        json={"purpose": "marketing", "language": "fr", "text": "x"},
        headers=brand.auth(Role.OWNER),
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "language"
    refused = client.post(
        "/api/v1/consent-texts",
        json={"purpose": "marketing", "language": "zh_CN", "text": "x"},
        headers=brand.auth(Role.ANALYST),
    )
    assert refused.status_code == 403


def test_a_changed_text_must_be_read_again(client: TestClient, brand: Brand, db: Database) -> None:
    slug, _activity, _options = live_campaign(client, brand)
    fields = _join_form(client, slug)
    client.post(
        "/api/v1/consent-texts",
        json={"purpose": "third_party", "language": "zh_CN", "text": "新的第三方说明。"},
        headers=brand.auth(Role.OWNER),
    ).raise_for_status()
    stale = client.post(
        f"/c/{slug}/me/join",
        data={**fields, "consent": "yes", "purpose": "third_party", "version_third_party": "v9"},
        follow_redirects=False,
    )
    assert stale.status_code == 422
    assert _records(db) == []


def test_the_brand_reads_and_records_a_persons_consents(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, _activity, _options = live_campaign(client, brand)
    assert _join(client, slug, consent="yes").status_code == 303
    person_id = _records(db)[0].person_id
    url = f"/api/v1/people/{person_id}/consents"
    recorded = client.post(
        url, json={"purpose": "marketing", "granted": True}, headers=brand.auth(Role.EDITOR)
    )
    assert recorded.status_code == 200, recorded.text
    states = {s["purpose"]: s["granted"] for s in recorded.json()}
    assert states == {
        "taking_part": True,
        "marketing": True,
        "third_party": False,
        "profiling": False,
    }
    read = client.get(url, headers=brand.auth(Role.OWNER)).json()
    assert [r["channel"] for r in read["records"]] == ["api", "my_page"]
    assert client.get(url, headers=brand.auth(Role.ANALYST)).status_code == 403


def test_minors_gate_stores_nothing_without_a_guardian(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    auth = brand.auth(Role.OWNER)
    slug, activity_id, options = live_campaign(client, brand)
    campaign_id = client.get("/api/v1/campaigns?status=live", headers=auth).json()["items"][0]["id"]
    clock.advance(timedelta(seconds=5))
    turned = client.patch(
        f"/api/v1/campaigns/{campaign_id}", json={"minors_gate": True}, headers=auth
    )
    assert turned.status_code == 200, turned.text
    assert turned.json()["minors_gate"] is True

    before = {t: _count(db, t) for t in ("participants", "people", "consent_records", "events")}
    # An activity's consent box does not ask the age: refused, nothing stored.
    vote = client.post(vote_url(slug, activity_id), json={"options": [options[0]], "consent": True})
    assert vote.status_code == 422
    assert vote.json()["error"]["field"] == "age"
    page = client.get(f"/c/{slug}/me").text
    assert "未满 14 周岁" in page
    unanswered = _join(client, slug, consent="yes")
    assert unanswered.status_code == 422
    child = _join(client, slug, consent="yes", age="under_14")
    assert child.status_code == 422
    assert "监护人" in child.text
    after = {t: _count(db, t) for t in before}
    assert after == before

    with_guardian = _join(client, slug, consent="yes", age="under_14", guardian="yes")
    assert with_guardian.status_code == 303
    [record] = _records(db)
    assert (record.given_by, record.under_14) == ("guardian", True)
    adult = TestClient(client.app)
    assert _join(adult, slug, consent="yes", age="14_plus").status_code == 303
    assert [(r.given_by, r.under_14) for r in _records(db)][1] == ("self", False)
