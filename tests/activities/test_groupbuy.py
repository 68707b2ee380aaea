"""Group-buys end to end: a participant opens a team, friends join through its link, a full
team succeeds for everyone, a late one fails and says so."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from im2.activities.formats.groupbuy.jobs import expire_groupbuy_teams_job
from im2.clock import ManualClock
from im2.db import Database
from im2.events.service import list_events
from im2.workspaces.schemas import Role
from tests.conftest import Brand, campaign_payload, go_live

OFFER = {
    "title": "三人拼团：樱花双杯礼盒",
    "product": "樱花双杯礼盒",
    "price": "59.00",
    "original_price": "98.00",
    "team_size": 3,
    "hours": 24,
}


def add_offer(client: TestClient, brand: Brand, campaign_id: int, **body: object) -> int:
    made = client.post(
        f"/api/v1/campaigns/{campaign_id}/groupbuys",
        json={**OFFER, **body},
        headers=brand.auth(Role.OWNER),
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def api(slug: str, activity_id: int) -> str:
    return f"/api/v1/public/campaigns/{slug}/groupbuys/{activity_id}"


def teams(client: TestClient, brand: Brand, activity_id: int) -> dict:
    return client.get(
        f"/api/v1/groupbuys/{activity_id}/teams", headers=brand.auth(Role.ANALYST)
    ).json()


def test_a_full_team_succeeds_for_everyone(client: TestClient, brand: Brand, db: Database) -> None:
    campaign = go_live(client, brand)
    offer_id = add_offer(client, brand, campaign["id"])
    base = api(campaign["slug"], offer_id)
    leader, friend, third, late = (TestClient(client.app) for _ in range(4))

    opened = leader.post(f"{base}/teams", json={"consent": True})
    assert opened.status_code == 201, opened.text
    team = opened.json()
    assert (team["status"], team["members"], team["slots_left"]) == ("open", 1, 2)
    assert team["share_path"] == f"/c/{campaign['slug']}/groupbuy/{offer_id}/team/{team['code']}"
    code = team["code"]

    own = leader.post(f"{base}/teams/{code}/members", json={})
    assert own.status_code == 409
    assert "already in this team" in own.json()["error"]["message"]
    second_team = leader.post(f"{base}/teams", json={})
    assert second_team.status_code == 409
    assert "open team" in second_team.json()["error"]["message"]

    assert (
        friend.post(f"{base}/teams/{code}/members", json={"consent": True}).json()["members"] == 2
    )
    full = third.post(f"{base}/teams/{code}/members", json={"consent": True})
    assert full.status_code == 201
    assert (full.json()["status"], full.json()["members"]) == ("succeeded", 3)
    too_late = late.post(f"{base}/teams/{code}/members", json={"consent": True})
    assert too_late.status_code == 409
    assert "already full" in too_late.json()["error"]["message"]

    page = leader.get(team["share_path"])
    assert "3 位成员全部拼团成功" in page.text
    seen = teams(client, brand, offer_id)
    assert (seen["succeeded"], seen["buyers"]) == (1, 3)
    with db.session() as session:
        kinds = [
            e.kind
            for e in list_events(
                session,
                kinds=[
                    "groupbuy.opened",
                    "groupbuy.joined",
                    "groupbuy.succeeded",
                    "participant.joined",
                ],
            )
        ]
    assert kinds.count("groupbuy.opened") == 1
    assert kinds.count("groupbuy.joined") == 2
    assert kinds.count("groupbuy.succeeded") == 3  # one for each member
    assert kinds.count("participant.joined") == 3  # the late phone wrote nothing

    # After their team succeeded, the leader may open a new one.
    assert leader.post(f"{base}/teams", json={}).status_code == 201


def test_an_expired_team_fails_on_read_and_by_the_job(
    client: TestClient, brand: Brand, clock: ManualClock, db: Database
) -> None:
    campaign = go_live(client, brand)
    offer_id = add_offer(client, brand, campaign["id"], hours=2)
    base = api(campaign["slug"], offer_id)
    leader, friend = TestClient(client.app), TestClient(client.app)
    code = leader.post(f"{base}/teams", json={"consent": True}).json()["code"]
    assert friend.post(f"{base}/teams/{code}/members", json={"consent": True}).status_code == 201

    clock.advance(timedelta(hours=2, minutes=1))
    # Read lazily: failed before any job has run.
    assert leader.get(f"{base}/teams/{code}").json()["status"] == "failed"
    page = leader.get(f"/c/{campaign['slug']}/groupbuy/{offer_id}/team/{code}")
    assert "未能按时成团，拼团失败" in page.text
    joining = TestClient(client.app).post(f"{base}/teams/{code}/members", json={"consent": True})
    assert joining.status_code == 409
    assert "did not fill up in time" in joining.json()["error"]["message"]

    assert expire_groupbuy_teams_job(db, clock) == 1
    assert expire_groupbuy_teams_job(db, clock) == 0  # idempotent
    with db.session() as session:
        assert len(list_events(session, kinds=["groupbuy.failed"])) == 2
    # Members of a failed team are free to open or join another one.
    assert leader.post(f"{base}/teams", json={}).status_code == 201


def test_one_open_team_per_offer_and_unknown_codes(
    client: TestClient, brand: Brand, db: Database
) -> None:
    campaign = go_live(client, brand)
    offer_id = add_offer(client, brand, campaign["id"])
    base = api(campaign["slug"], offer_id)
    alice, bob = TestClient(client.app), TestClient(client.app)
    code_a = alice.post(f"{base}/teams", json={"consent": True}).json()["code"]
    code_b = bob.post(f"{base}/teams", json={"consent": True}).json()["code"]
    offer = bob.get(base).json()
    assert offer["my_team"]["code"] == code_b
    assert offer["can_open"] is False
    assert [t["code"] for t in offer["open_teams"]] == [code_a]
    stranger = TestClient(client.app).get(base).json()
    assert (stranger["my_team"], stranger["can_open"]) == (None, True)
    assert {t["code"] for t in stranger["open_teams"]} == {code_a, code_b}
    cross = bob.post(f"{base}/teams/{code_a}/members", json={})
    assert cross.status_code == 409
    assert "open team" in cross.json()["error"]["message"]

    unknown = TestClient(client.app).post(f"{base}/teams/nope1234/members", json={"consent": True})
    assert unknown.status_code == 404
    assert client.get(f"/c/{campaign['slug']}/groupbuy/{offer_id}/team/nope1234").status_code == 404
    seen = teams(client, brand, offer_id)
    assert sorted(r["members"] for r in seen["rows"]) == [1, 1]
    assert {r["code"] for r in seen["rows"]} == {code_a, code_b}
    with db.session() as session:
        assert len(list_events(session, kinds=["participant.joined"])) == 2


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"price": "120"}, 422, "price"),
        ({"team_size": 1}, 422, "team_size"),
        ({"hours": 0}, 422, "hours"),
    ],
)
def test_bad_offers_are_refused(
    client: TestClient, brand: Brand, body: dict, status: int, field: str
) -> None:
    campaign = go_live(client, brand)
    made = client.post(
        f"/api/v1/campaigns/{campaign['id']}/groupbuys",
        json={**OFFER, **body},
        headers=brand.auth(Role.OWNER),
    )
    assert made.status_code == status
    assert field in (made.json()["error"]["field"] or "")


def test_closed_campaigns_and_unknown_slugs_write_nothing(
    client: TestClient, brand: Brand, db: Database
) -> None:
    auth = brand.auth(Role.OWNER)
    draft = client.post("/api/v1/campaigns", json=campaign_payload(slug="draft-one"), headers=auth)
    draft_offer = add_offer(client, brand, draft.json()["id"])
    assert (
        client.post(f"{api('draft-one', draft_offer)}/teams", json={"consent": True}).status_code
        == 404
    )
    assert client.get(f"/c/nope/groupbuy/{draft_offer}").status_code == 404

    campaign = go_live(client, brand)
    offer_id = add_offer(client, brand, campaign["id"])
    base = api(campaign["slug"], offer_id)
    assert client.post(f"{base}/teams", json={"consent": False}).status_code == 422
    client.post(
        f"/api/v1/campaigns/{campaign['id']}/transitions", json={"status": "paused"}, headers=auth
    ).raise_for_status()
    paused = client.post(f"{base}/teams", json={"consent": True})
    assert paused.status_code == 409
    assert "paused" in paused.json()["error"]["message"]
    assert teams(client, brand, offer_id)["teams"] == 0
    with db.session() as session:
        assert list_events(session, kinds=["groupbuy.opened", "participant.joined"]) == []


def fields_of(client: TestClient, url: str) -> dict[str, str]:
    html = client.get(url).text
    found = dict(re.findall(r'name="(csrf_token|shown)" value="([^"]+)"', html))
    assert "csrf_token" in found, html[:800]
    return found


def test_open_and_join_without_javascript(client: TestClient, brand: Brand) -> None:
    campaign = go_live(client, brand)
    offer_id = add_offer(client, brand, campaign["id"], team_size=2)
    offer_url = f"/c/{campaign['slug']}/groupbuy/{offer_id}"
    page = client.get(offer_url)
    assert "¥59.00" in page.text
    assert "¥59.00 发起拼团" in page.text
    fields = fields_of(client, offer_url)
    bot = client.post(f"{offer_url}/open", data={**fields, "consent": "yes", "website": "x"})
    assert bot.status_code == 400
    opened = client.post(
        f"{offer_url}/open", data={**fields, "consent": "yes"}, follow_redirects=False
    )
    assert opened.status_code == 303
    team_url = opened.headers["location"].split("?")[0]
    assert re.fullmatch(rf"{offer_url}/team/[\w-]+", team_url)
    mine = client.get(opened.headers["location"])
    assert "你的团已开" in mine.text
    assert "还差 1 人" in mine.text
    # The leader's box refreshes itself (HTMX) while the team fills.
    assert 'hx-trigger="every 5s"' in mine.text
    box = client.get(team_url, headers={"hx-request": "true"})
    assert box.text.lstrip().startswith("{#") is False
    assert "<html" not in box.text
    assert 'id="team-box"' in box.text

    friend = TestClient(client.app)
    friend_fields = fields_of(friend, team_url)
    joined = friend.post(
        f"{team_url}/join", data={**friend_fields, "consent": "yes"}, follow_redirects=False
    )
    assert joined.status_code == 303
    assert "2 位成员全部拼团成功" in friend.get(joined.headers["location"]).text
    stranger = TestClient(client.app)
    full = stranger.post(
        f"{team_url}/join", data={**fields_of(stranger, offer_url), "consent": "yes"}
    )
    assert full.status_code == 409
    assert "这个团已经满员了" in full.text


def test_console_creates_an_offer_lists_teams_and_exports(client: TestClient, brand: Brand) -> None:
    from tests.test_auth import login
    from tests.test_console import form_token

    campaign = go_live(client, brand)
    login(client, brand.emails[Role.EDITOR])
    new_page = f"/console/w/acme/campaigns/{campaign['id']}/groupbuy/new"
    action = f"/console/w/acme/campaigns/{campaign['id']}/groupbuy"
    form = {
        "title": "双人拼团",
        "product": "春日随行杯",
        "price": "39.9",
        "original_price": "69",
        "team_size": "2",
        "hours": "12",
    }
    bad = client.post(
        action,
        data={**form, "price": "abc", "csrf_token": form_token(client, new_page, action)},
    )
    assert bad.status_code == 422
    assert 'id="price-error"' in bad.text
    made = client.post(
        action,
        data={**form, "csrf_token": form_token(client, new_page, action)},
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    offer_id = int(made.headers["location"].rsplit("/", 1)[1])
    phone = TestClient(client.app)
    code = phone.post(f"{api(campaign['slug'], offer_id)}/teams", json={"consent": True}).json()[
        "code"
    ]
    detail = client.get(made.headers["location"])
    assert "春日随行杯" in detail.text
    assert code in detail.text
    assert "拼团中，等待成员" in detail.text
    export = client.get(f"/console/w/acme/groupbuy/{offer_id}/export.csv")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert [(r["team"], r["leader"], r["team_status"]) for r in rows] == [(code, "True", "open")]


def test_the_texts_can_be_edited_but_not_the_team_rule(client: TestClient, brand: Brand) -> None:
    campaign = go_live(client, brand)
    offer_id = add_offer(client, brand, campaign["id"])
    url = f"/api/v1/groupbuys/{offer_id}"
    assert (
        client.patch(url, json={"team_size": 5}, headers=brand.auth(Role.EDITOR)).status_code == 422
    )
    edited = client.patch(url, json={"description": "限量 100 份"}, headers=brand.auth(Role.EDITOR))
    assert edited.status_code == 200
    assert edited.json()["settings"]["team_size"] == 3
    assert "限量 100 份" in client.get(f"/c/{campaign['slug']}/groupbuy/{offer_id}").text
