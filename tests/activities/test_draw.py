"""Lucky draws end to end: the brand sets prizes, phones enter, stock and winners hold, and
anyone can check the draw from its public record."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from im2.activities.formats.draw import reads, service
from im2.activities.formats.draw.jobs import run_scheduled_draws_job
from im2.activities.formats.draw.schemas import DrawRecord
from im2.cli import app as cli_app
from im2.clock import ManualClock
from im2.config import get_settings
from im2.db import Database
from im2.events.service import list_events
from im2.workspaces.schemas import Role
from tests.conftest import Brand, campaign_payload, go_live

INSTANT = {
    "title": "樱花季幸运抽奖",
    "mode": "instant",
    "prizes": [{"name": "樱花保温杯", "stock": 2, "odds": 1.0}],
}


def live_campaign(client: TestClient, brand: Brand, slug: str = "spring-vote") -> dict:
    return go_live(client, brand, slug=slug)


def transition(client: TestClient, brand: Brand, campaign_id: int, status: str) -> None:
    client.post(
        f"/api/v1/campaigns/{campaign_id}/transitions",
        json={"status": status},
        headers=brand.auth(Role.OWNER),
    ).raise_for_status()


def add_draw(client: TestClient, brand: Brand, campaign_id: int, **body: object) -> int:
    made = client.post(
        f"/api/v1/campaigns/{campaign_id}/draws",
        json={**INSTANT, **body},
        headers=brand.auth(Role.OWNER),
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def enter_url(slug: str, activity_id: int) -> str:
    return f"/api/v1/public/campaigns/{slug}/draws/{activity_id}/entries"


def results(client: TestClient, brand: Brand, activity_id: int) -> dict:
    return client.get(
        f"/api/v1/draws/{activity_id}/results", headers=brand.auth(Role.ANALYST)
    ).json()


def verify_cli(database_url: str, monkeypatch: pytest.MonkeyPatch, draw_id: int):
    monkeypatch.setenv("IM2_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli_app, ["draw", "verify", str(draw_id)])
    finally:
        get_settings.cache_clear()


def test_instant_win_gives_each_unit_once_and_one_entry_each(
    client: TestClient,
    brand: Brand,
    db: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    campaign = live_campaign(client, brand)
    draw_id = add_draw(client, brand, campaign["id"])
    url = enter_url(campaign["slug"], draw_id)

    phones = [TestClient(client.app) for _ in range(3)]
    first = phones[0].post(url, json={"consent": True})
    assert first.status_code == 201
    assert (first.json()["won"], first.json()["prize"]) == (True, "樱花保温杯")
    again = phones[0].post(url, json={"consent": True})
    assert again.status_code == 409
    assert "already entered" in again.json()["error"]["message"]
    assert phones[1].post(url, json={"consent": True}).json()["won"] is True
    # Every unit is gone: nothing is left to win, so no more entries are taken.
    late = phones[2].post(url, json={"consent": True})
    assert late.status_code == 409
    assert "All prizes have been won" in late.json()["error"]["message"]

    mine = phones[0].get(url.replace("/entries", "/me")).json()
    assert (mine["entered"], mine["prize"], mine["can_enter"]) == (True, "樱花保温杯", False)
    newcomer = TestClient(client.app).get(url.replace("/entries", "/me")).json()
    assert (newcomer["entered"], newcomer["can_enter"]) == (False, False)
    assert "All prizes have been won" in newcomer["closed_reason"]

    seen = results(client, brand, draw_id)
    assert seen["entries"] == 2
    assert [(p["stock"], p["won"]) for p in seen["prizes"]] == [(0, 2)]
    assert len(seen["winners"]) == 2
    # With nothing left to win the draw is over: the seed is revealed.
    assert seen["seed"] is not None
    page = phones[2].get(f"/c/{campaign['slug']}/draw/{draw_id}")
    assert "奖品已全部抽完" in page.text
    assert f'action="/c/{campaign["slug"]}/draw/{draw_id}/enter"' not in page.text
    with db.session() as session:
        kinds = [
            e.kind
            for e in list_events(session, kinds=["draw.entered", "draw.won", "participant.joined"])
        ]
    assert kinds.count("draw.entered") == 2
    assert kinds.count("draw.won") == 2
    assert kinds.count("participant.joined") == 2  # the late phone wrote nothing
    verified = verify_cli(database_url, monkeypatch, draw_id)
    assert verified.exit_code == 0, verified.output
    assert "verified" in verified.output


def test_stock_can_never_go_below_zero_in_the_database(
    client: TestClient, brand: Brand, db: Database
) -> None:
    campaign = live_campaign(client, brand)
    draw_id = add_draw(client, brand, campaign["id"])
    prize_id = results(client, brand, draw_id)["prizes"][0]["id"]
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.execute(text("UPDATE draw_prizes SET stock = -1 WHERE id = :id"), {"id": prize_id})
    with db.transaction() as session:
        assert service.take_unit(session, prize_id=prize_id)
        assert service.take_unit(session, prize_id=prize_id)
        assert not service.take_unit(session, prize_id=prize_id)
    assert results(client, brand, draw_id)["prizes"][0]["stock"] == 0


def test_scheduled_draw_is_committed_then_revealed_and_verifiable(
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    campaign = live_campaign(client, brand)
    draw_at = (clock.now() + timedelta(hours=2)).isoformat()
    draw_id = add_draw(
        client,
        brand,
        campaign["id"],
        mode="scheduled",
        draw_at=draw_at,
        prizes=[{"name": "咖啡豆", "stock": 2}, {"name": "贴纸", "stock": 1}],
    )
    url = enter_url(campaign["slug"], draw_id)
    phones = [TestClient(client.app) for _ in range(6)]
    for phone in phones:
        receipt = phone.post(url, json={"consent": True})
        assert receipt.status_code == 201, receipt.text
        assert receipt.json()["won"] is False  # nobody wins before the draw

    page = phones[0].get(f"/c/{campaign['slug']}/draw/{draw_id}")
    commitment = results(client, brand, draw_id)["commitment"]
    assert commitment in page.text
    assert "开奖后公布种子" in page.text
    record = DrawRecord.model_validate(
        phones[0].get(f"/api/v1/public/campaigns/{campaign['slug']}/draws/{draw_id}/record").json()
    )
    assert record.seed is None
    assert len(record.entries) == 6

    assert run_scheduled_draws_job(db, clock) == []  # not yet time
    clock.advance(timedelta(hours=2))
    assert run_scheduled_draws_job(db, clock) == [draw_id]
    assert run_scheduled_draws_job(db, clock) == []  # idempotent: drawn once

    record = DrawRecord.model_validate(
        phones[0].get(f"/api/v1/public/campaigns/{campaign['slug']}/draws/{draw_id}/record").json()
    )
    assert record.seed is not None
    assert len(record.winners) == 3
    assert reads.verify_record(record).ok
    tampered = record.model_copy(update={"winners": {record.entries[0]: record.prizes[0].id}})
    assert not reads.verify_record(tampered).ok

    after = phones[0].get(f"/c/{campaign['slug']}/draw/{draw_id}")
    assert record.seed in after.text
    late = TestClient(client.app).post(url, json={"consent": True})
    assert late.status_code == 409
    assert "entries are closed" in late.json()["error"]["message"]
    with db.session() as session:
        assert len(list_events(session, kinds=["draw.won"])) == 3

    verified = verify_cli(database_url, monkeypatch, draw_id)
    assert verified.exit_code == 0, verified.output
    assert "verified" in verified.output


def test_cli_refuses_a_draw_that_has_not_happened(
    client: TestClient,
    brand: Brand,
    clock: ManualClock,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    campaign = live_campaign(client, brand)
    draw_id = add_draw(
        client,
        brand,
        campaign["id"],
        mode="scheduled",
        draw_at=(clock.now() + timedelta(days=1)).isoformat(),
        prizes=[{"name": "咖啡豆", "stock": 1}],
    )
    refused = verify_cli(database_url, monkeypatch, draw_id)
    assert refused.exit_code == 1
    assert "not revealed yet" in refused.output


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"mode": "scheduled", "prizes": [{"name": "a", "stock": 1}]}, "when the draw"),
        ({"mode": "scheduled", "draw_at": "2020-01-01T00:00:00Z"}, "future"),
        (
            {
                "prizes": [
                    {"name": "a", "stock": 1, "odds": 0.7},
                    {"name": "b", "stock": 1, "odds": 0.5},
                ]
            },
            "100%",
        ),
        ({"prizes": [{"name": "a", "stock": 1, "odds": 0}]}, "chance"),
        (
            {
                "prizes": [
                    {"name": "a", "stock": 1, "odds": 0.1},
                    {"name": "a", "stock": 1, "odds": 0.1},
                ]
            },
            "same name",
        ),
    ],
)
def test_bad_draws_are_refused(client: TestClient, brand: Brand, body: dict, message: str) -> None:
    campaign = live_campaign(client, brand)
    made = client.post(
        f"/api/v1/campaigns/{campaign['id']}/draws",
        json={**INSTANT, **body},
        headers=brand.auth(Role.OWNER),
    )
    assert made.status_code == 422
    assert message in made.json()["error"]["message"]


def test_closed_campaigns_unknown_slugs_and_missing_consent_write_nothing(
    client: TestClient, brand: Brand, db: Database
) -> None:
    auth = brand.auth(Role.OWNER)
    draft = client.post("/api/v1/campaigns", json=campaign_payload(slug="draft-one"), headers=auth)
    draft_draw = add_draw(client, brand, draft.json()["id"])
    assert (
        client.post(enter_url("draft-one", draft_draw), json={"consent": True}).status_code == 404
    )
    assert client.post(enter_url("nope", draft_draw), json={"consent": True}).status_code == 404
    assert client.get(f"/c/nope/draw/{draft_draw}").status_code == 404

    campaign = live_campaign(client, brand)
    draw_id = add_draw(client, brand, campaign["id"])
    no_consent = client.post(enter_url(campaign["slug"], draw_id), json={"consent": False})
    assert no_consent.status_code == 422
    transition(client, brand, campaign["id"], "paused")
    paused = client.post(enter_url(campaign["slug"], draw_id), json={"consent": True})
    assert paused.status_code == 409
    assert "paused" in paused.json()["error"]["message"]
    transition(client, brand, campaign["id"], "ended")
    ended = client.post(enter_url(campaign["slug"], draw_id), json={"consent": True})
    assert ended.status_code == 409
    assert results(client, brand, draw_id)["entries"] == 0
    with db.session() as session:
        assert list_events(session, kinds=["draw.entered", "participant.joined"]) == []


def page_fields(client: TestClient, url: str) -> dict[str, str]:
    html = client.get(url).text
    fields = dict(re.findall(r'name="(csrf_token|shown)" value="([^"]+)"', html))
    assert "csrf_token" in fields, html[:1000]
    return fields


def test_the_page_works_without_javascript(client: TestClient, brand: Brand) -> None:
    campaign = live_campaign(client, brand)
    draw_id = add_draw(client, brand, campaign["id"])
    url = f"/c/{campaign['slug']}/draw/{draw_id}"
    page = client.get(url)
    assert page.status_code == 200
    assert "樱花保温杯" in page.text
    assert 'property="og:title"' in page.text
    fields = page_fields(client, url)

    bot = client.post(f"{url}/enter", data={**fields, "consent": "yes", "website": "x"})
    assert bot.status_code == 400
    no_consent = client.post(f"{url}/enter", data=fields)
    assert no_consent.status_code == 422
    assert "同意" in no_consent.text
    entered = client.post(f"{url}/enter", data={**fields, "consent": "yes"}, follow_redirects=False)
    assert entered.status_code == 303
    after = client.get(entered.headers["location"])
    assert "恭喜你抽中：樱花保温杯" in after.text
    assert f'action="{url}/enter"' not in after.text
    twice = client.post(f"{url}/enter", data={**fields, "consent": "yes"})
    assert twice.status_code == 409
    assert "你已经参加过这次抽奖" in twice.text


def test_console_creates_a_draw_shows_winners_and_exports(client: TestClient, brand: Brand) -> None:
    from tests.test_auth import login
    from tests.test_console import form_token

    campaign = live_campaign(client, brand)
    login(client, brand.emails[Role.EDITOR])
    new_page = f"/console/w/acme/campaigns/{campaign['id']}/draw/new"
    action = f"/console/w/acme/campaigns/{campaign['id']}/draw"
    bad = client.post(
        action,
        data={
            "csrf_token": form_token(client, new_page, action),
            "title": "抽奖",
            "mode": "instant",
            "prizes": "保温杯 | 5 | 80%\n贴纸 | 10 | 30%",
        },
    )
    assert bad.status_code == 422
    assert 'id="prizes-error"' in bad.text
    made = client.post(
        action,
        data={
            "csrf_token": form_token(client, new_page, action),
            "title": "门店抽奖",
            "mode": "instant",
            "prizes": "保温杯 | 1 | 100%",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    draw_id = int(made.headers["location"].rsplit("/", 1)[1])
    phone = TestClient(client.app)
    assert phone.post(enter_url(campaign["slug"], draw_id), json={"consent": True}).json()["won"]

    detail = client.get(made.headers["location"])
    assert "门店抽奖" in detail.text
    assert "保温杯" in detail.text
    assert results(client, brand, draw_id)["commitment"] in detail.text
    export = client.get(f"/console/w/acme/draw/{draw_id}/export.csv")
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert [r["prize"] for r in rows] == ["保温杯"]


def test_held_entries_wait_for_review_in_the_console(
    client: TestClient, brand: Brand, app, db: Database
) -> None:
    from tests.test_auth import login
    from tests.test_console import form_token

    # A strict threshold: a new phone entering through the API (no page seen) is held.
    app.state.settings = app.state.settings.model_copy(update={"risk_hold_threshold": 0.2})
    campaign = live_campaign(client, brand)
    draw_id = add_draw(client, brand, campaign["id"])
    url = enter_url(campaign["slug"], draw_id)
    suspicious, other = TestClient(client.app), TestClient(client.app)
    held = suspicious.post(url, json={"consent": True}).json()
    assert (held["held_for_review"], held["won"]) == (True, False)
    other_held = other.post(url, json={"consent": True}).json()
    assert other_held["held_for_review"] is True
    page = suspicious.get(f"/c/{campaign['slug']}/draw/{draw_id}")
    assert "你的参与正在由主办方审核" in page.text
    assert results(client, brand, draw_id)["held"] == 2

    login(client, brand.emails[Role.EDITOR])
    detail_url = f"/console/w/acme/draw/{draw_id}"
    admit = f"{detail_url}/review/{held['entry_id']}"
    admitted = client.post(
        admit,
        data={"csrf_token": form_token(client, detail_url, admit), "decision": "approve"},
        follow_redirects=False,
    )
    assert admitted.status_code == 303
    # Admitted to an instant draw: its ticket's roll decides at once (odds 100%).
    assert "恭喜你抽中：樱花保温杯" in suspicious.get(f"/c/{campaign['slug']}/draw/{draw_id}").text
    other_entry = results(client, brand, draw_id)
    assert (other_entry["entries"], other_entry["held"]) == (1, 1)
    discard = f"{detail_url}/review/{other_held['entry_id']}"
    client.post(
        discard,
        data={"csrf_token": form_token(client, detail_url, discard), "decision": "reject"},
    )
    seen = results(client, brand, draw_id)
    assert (seen["entries"], seen["held"], len(seen["winners"])) == (1, 0, 1)
    record = DrawRecord.model_validate(
        client.get(f"/api/v1/public/campaigns/{campaign['slug']}/draws/{draw_id}/record").json()
    )
    assert record.entries == [held["entry_id"]]


def test_the_texts_can_be_edited_by_editors_only(client: TestClient, brand: Brand) -> None:
    campaign = live_campaign(client, brand)
    draw_id = add_draw(client, brand, campaign["id"])
    url = f"/api/v1/draws/{draw_id}"
    denied = client.patch(url, json={"title": "改名"}, headers=brand.auth(Role.VIEWER))
    assert denied.status_code == 403
    assert (
        client.patch(url, json={"mode": "scheduled"}, headers=brand.auth(Role.EDITOR)).status_code
        == 422
    )
    edited = client.patch(
        url, json={"title": "樱花季幸运抽奖（加量）"}, headers=brand.auth(Role.EDITOR)
    )
    assert edited.status_code == 200
    assert edited.json()["title"] == "樱花季幸运抽奖（加量）"
    assert "樱花季幸运抽奖（加量）" in client.get(f"/c/{campaign['slug']}/draw/{draw_id}").text
