"""Daily check-ins: one a local day in the campaign's zone, streaks across local midnight,
milestone events, the participant's calendar and the brand's leaderboard."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.db import Database
from im2.events.service import list_events
from im2.workspaces.schemas import Role
from tests.conftest import Brand, campaign_payload, go_live


def add_checkin(client: TestClient, brand: Brand, campaign_id: int, **body: object) -> int:
    made = client.post(
        f"/api/v1/campaigns/{campaign_id}/checkins",
        json={"title": "早安咖啡打卡", "milestones": [2, 3], **body},
        headers=brand.auth(Role.OWNER),
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def check_in_url(slug: str, activity_id: int) -> str:
    return f"/api/v1/public/campaigns/{slug}/checkins/{activity_id}/checkins"


def stats(client: TestClient, brand: Brand, activity_id: int) -> dict:
    return client.get(
        f"/api/v1/checkins/{activity_id}/stats", headers=brand.auth(Role.ANALYST)
    ).json()


def test_one_check_in_a_local_day_and_the_day_turns_at_local_midnight(
    client: TestClient, brand: Brand, clock: ManualClock, db: Database
) -> None:
    campaign = go_live(client, brand)
    activity_id = add_checkin(client, brand, campaign["id"])
    url = check_in_url(campaign["slug"], activity_id)

    # 23:50 in Shanghai (15:50 UTC) on 2 March.
    clock.set(datetime(2026, 3, 2, 15, 50, tzinfo=UTC))
    first = client.post(url, json={"consent": True})
    assert first.status_code == 201, first.text
    assert (first.json()["day"], first.json()["streak"]) == ("2026-03-02", 1)
    again = client.post(url, json={})
    assert again.status_code == 409
    assert "already checked in today" in again.json()["error"]["message"]

    # Twenty minutes later it is 00:10 on 3 March in Shanghai (still 2 March in UTC).
    clock.advance(timedelta(minutes=20))
    second = client.post(url, json={})
    assert second.status_code == 201, second.text
    assert (second.json()["day"], second.json()["streak"]) == ("2026-03-03", 2)
    assert second.json()["milestone"] == 2

    clock.advance(timedelta(days=1))
    third = client.post(url, json={})
    assert (third.json()["streak"], third.json()["milestone"]) == (3, 3)

    # Skipping a local day starts the streak again.
    clock.advance(timedelta(days=2))
    fourth = client.post(url, json={})
    assert (fourth.json()["day"], fourth.json()["streak"]) == ("2026-03-06", 1)
    assert fourth.json()["total_days"] == 4

    with db.session() as session:
        done = list_events(session, kinds=["checkin.done"])
        milestones = list_events(session, kinds=["checkin.milestone"])
    assert len(done) == 4
    assert sorted(e.properties["milestone"] for e in milestones) == [2, 3]


def test_calendar_and_leaderboard(client: TestClient, brand: Brand, clock: ManualClock) -> None:
    campaign = go_live(client, brand)
    activity_id = add_checkin(client, brand, campaign["id"], milestones=[3, 7])
    url = check_in_url(campaign["slug"], activity_id)
    regular, casual = TestClient(client.app), TestClient(client.app)
    for day in range(4):
        assert regular.post(url, json={"consent": True}).status_code == 201
        if day in (0, 2):
            assert casual.post(url, json={"consent": True}).status_code == 201
        clock.advance(timedelta(days=1))

    page = regular.get(f"/c/{campaign['slug']}/checkin/{activity_id}")
    assert page.status_code == 200
    assert "当前连续打卡 4 天" in page.text
    assert "今日打卡" in page.text  # a new day: the button is back
    assert len(re.findall(r'aria-label="2026-03-\d\d 已打卡"', page.text)) == 4
    mine = regular.get(
        f"/api/v1/public/campaigns/{campaign['slug']}/checkins/{activity_id}/me"
    ).json()
    assert (mine["current_streak"], mine["best_streak"], mine["total_days"]) == (4, 4, 4)
    assert mine["next_milestone"] == 7

    board = stats(client, brand, activity_id)
    assert board["participants"] == 2
    assert board["check_ins"] == 6
    assert [
        (r["current_streak"], r["best_streak"], r["total_days"]) for r in board["leaderboard"]
    ] == [(4, 4, 4), (0, 1, 2)]


def test_closed_campaigns_unknown_slugs_and_missing_consent_write_nothing(
    client: TestClient, brand: Brand, db: Database
) -> None:
    auth = brand.auth(Role.OWNER)
    draft = client.post("/api/v1/campaigns", json=campaign_payload(slug="draft-one"), headers=auth)
    draft_checkin = add_checkin(client, brand, draft.json()["id"])
    assert (
        client.post(check_in_url("draft-one", draft_checkin), json={"consent": True}).status_code
        == 404
    )
    assert client.get(f"/c/nope/checkin/{draft_checkin}").status_code == 404

    campaign = go_live(client, brand)
    activity_id = add_checkin(client, brand, campaign["id"])
    url = check_in_url(campaign["slug"], activity_id)
    assert client.post(url, json={"consent": False}).status_code == 422
    client.post(
        f"/api/v1/campaigns/{campaign['id']}/transitions", json={"status": "ended"}, headers=auth
    ).raise_for_status()
    ended = client.post(url, json={"consent": True})
    assert ended.status_code == 409
    assert "ended" in ended.json()["error"]["message"]
    assert stats(client, brand, activity_id)["check_ins"] == 0
    with db.session() as session:
        assert list_events(session, kinds=["checkin.done", "participant.joined"]) == []


def test_the_page_works_without_javascript(client: TestClient, brand: Brand) -> None:
    campaign = go_live(client, brand)
    activity_id = add_checkin(client, brand, campaign["id"])
    url = f"/c/{campaign['slug']}/checkin/{activity_id}"
    html = client.get(url).text
    fields = dict(re.findall(r'name="(csrf_token|shown)" value="([^"]+)"', html))
    bot = client.post(f"{url}/check-in", data={**fields, "consent": "yes", "website": "x"})
    assert bot.status_code == 400
    done = client.post(f"{url}/check-in", data={**fields, "consent": "yes"}, follow_redirects=False)
    assert done.status_code == 303
    after = client.get(done.headers["location"])
    assert "今天已打卡，明天见" in after.text
    assert "当前连续打卡 1 天" in after.text
    assert f'action="{url}/check-in"' not in after.text
    twice = client.post(f"{url}/check-in", data=fields)
    assert twice.status_code == 409
    assert "你今天已经打过卡了" in twice.text


def test_console_creates_a_check_in_and_exports(client: TestClient, brand: Brand) -> None:
    from tests.test_auth import login
    from tests.test_console import form_token

    campaign = go_live(client, brand)
    login(client, brand.emails[Role.EDITOR])
    new_page = f"/console/w/acme/campaigns/{campaign['id']}/checkin/new"
    action = f"/console/w/acme/campaigns/{campaign['id']}/checkin"
    bad = client.post(
        action,
        data={
            "csrf_token": form_token(client, new_page, action),
            "title": "打卡",
            "milestones": "3, 0",
        },
    )
    assert bad.status_code == 422
    assert 'id="milestones-error"' in bad.text
    made = client.post(
        action,
        data={
            "csrf_token": form_token(client, new_page, action),
            "title": "晨跑打卡",
            "milestones": "7，3",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    activity_id = int(made.headers["location"].rsplit("/", 1)[1])
    phone = TestClient(client.app)
    assert (
        phone.post(check_in_url(campaign["slug"], activity_id), json={"consent": True}).status_code
        == 201
    )
    detail = client.get(made.headers["location"])
    assert "晨跑打卡" in detail.text
    assert "连续打卡排行榜" in detail.text
    assert "3, 7" in detail.text
    export = client.get(f"/console/w/acme/checkin/{activity_id}/export.csv")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert [(r["day"], r["streak"]) for r in rows] == [("2026-03-02", "1")]


def test_held_check_ins_stay_off_the_leaderboard_until_counted(
    client: TestClient, brand: Brand, app, clock: ManualClock, db: Database
) -> None:
    from tests.test_auth import login
    from tests.test_console import form_token

    # A strict threshold: a new phone checking in through the API (no page seen) is held.
    app.state.settings = app.state.settings.model_copy(update={"risk_hold_threshold": 0.2})
    campaign = go_live(client, brand)
    activity_id = add_checkin(client, brand, campaign["id"], milestones=[1])
    phone = TestClient(client.app)
    held = phone.post(check_in_url(campaign["slug"], activity_id), json={"consent": True})
    assert held.json()["held_for_review"] is True
    assert held.json()["milestone"] is None
    assert stats(client, brand, activity_id)["leaderboard"] == []

    login(client, brand.emails[Role.EDITOR])
    detail = f"/console/w/acme/checkin/{activity_id}"
    page = client.get(detail)
    assert "待审核" in page.text
    checkin_id = re.search(rf"{detail}/review/(\d+)", page.text).group(1)
    action = f"{detail}/review/{checkin_id}"
    counted = client.post(
        action,
        data={"csrf_token": form_token(client, detail, action), "decision": "approve"},
        follow_redirects=False,
    )
    assert counted.status_code == 303
    board = stats(client, brand, activity_id)
    assert [(r["current_streak"], r["total_days"]) for r in board["leaderboard"]] == [(1, 1)]
    assert board["held"] == 0
    with db.session() as session:
        milestone = list_events(session, kinds=["checkin.milestone"])
    assert [e.properties["milestone"] for e in milestone] == [1]


def test_milestones_can_be_changed_for_the_check_ins_to_come(
    client: TestClient, brand: Brand, clock: ManualClock, db: Database
) -> None:
    campaign = go_live(client, brand)
    activity_id = add_checkin(client, brand, campaign["id"], milestones=[5])
    url = check_in_url(campaign["slug"], activity_id)
    phone = TestClient(client.app)
    assert phone.post(url, json={"consent": True}).json()["milestone"] is None
    edited = client.patch(
        f"/api/v1/checkins/{activity_id}",
        json={"milestones": [2, 2, 4], "title": "晨间打卡"},
        headers=brand.auth(Role.EDITOR),
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["settings"]["milestones"] == [2, 4]
    bad = client.patch(
        f"/api/v1/checkins/{activity_id}", json={"milestones": [0]}, headers=brand.auth(Role.EDITOR)
    )
    assert bad.status_code == 422
    clock.advance(timedelta(days=1))
    assert phone.post(url, json={}).json()["milestone"] == 2


def test_console_edits_the_texts_and_milestones(client: TestClient, brand: Brand) -> None:
    from tests.test_auth import login
    from tests.test_console import form_token

    campaign = go_live(client, brand)
    activity_id = add_checkin(client, brand, campaign["id"])
    login(client, brand.emails[Role.EDITOR])
    detail = f"/console/w/acme/checkin/{activity_id}"
    edit = f"{detail}/edit"
    assert f'href="{edit}"' in client.get(detail).text
    form = client.get(edit).text
    assert 'value="2, 3"' in form
    bad = client.post(
        edit,
        data={"csrf_token": form_token(client, edit, edit), "title": "", "milestones": "2"},
    )
    assert bad.status_code == 422
    assert 'id="title-error"' in bad.text
    saved = client.post(
        edit,
        data={
            "csrf_token": form_token(client, edit, edit),
            "title": "早安打卡（第二季）",
            "description": "每天一杯",
            "milestones": "5, 10",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    page = client.get(detail).text
    assert "早安打卡（第二季）" in page
    assert "5, 10" in page
    # The wrong kind behind the same number is not editable here.
    assert client.get(f"/console/w/acme/draw/{activity_id}/edit").status_code == 404


def test_the_calendar_pages_back_to_earlier_months(
    client: TestClient, brand: Brand, clock: ManualClock
) -> None:
    campaign = go_live(client, brand, ends_at="2026-04-20T22:00:00")
    activity_id = add_checkin(client, brand, campaign["id"])
    url = check_in_url(campaign["slug"], activity_id)
    # 31 March, 23:30 in Shanghai, then 1 April: one streak across the month boundary.
    clock.set(datetime(2026, 3, 31, 15, 30, tzinfo=UTC))
    phone = TestClient(client.app)
    assert phone.post(url, json={"consent": True}).status_code == 201
    clock.advance(timedelta(hours=1))
    assert phone.post(url, json={}).json()["streak"] == 2

    me = f"/api/v1/public/campaigns/{campaign['slug']}/checkins/{activity_id}/me"
    april = phone.get(me).json()
    assert (april["month"], april["previous_month"], april["next_month"]) == (
        "2026-04",
        "2026-03",
        None,
    )
    march = phone.get(me, params={"month": "2026-03"}).json()
    checked = [d["day"] for week in march["weeks"] for d in week if d["checked"] and d["in_month"]]
    assert checked == ["2026-03-31"]
    assert march["next_month"] == "2026-04"
    assert phone.get(me, params={"month": "2026-13"}).json()["month"] == "2026-04"
    page = phone.get(f"/c/{campaign['slug']}/checkin/{activity_id}?month=2026-03")
    assert 'aria-label="2026-03-31 已打卡"' in page.text
    assert "?month=2026-04" in page.text
