"""The public JSON views the widget renders the check-in, the UGC contest, the lucky draw, 集卡,
the group-buy and the referral from, read with a widget token as a mini-program calls them:
each says what this token did (and another token did not), and refuses a forged token (401),
an unknown activity (404), an activity of another format (404) and a bad id (422)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from im2.activities.formats.cards.jobs import draw_cards_job
from im2.clock import ManualClock
from im2.db import Database
from im2.workspaces.schemas import Role
from tests.activities.test_cards import add_cards
from tests.activities.test_checkin import add_checkin, check_in_url
from tests.activities.test_draw import add_draw
from tests.activities.test_groupbuy import add_offer
from tests.activities.test_ugc import approve, photo
from tests.conftest import Brand, go_live
from tests.embed.test_format_views import _texts, _token


def _api(slug: str, plural: str, activity_id: int) -> str:
    return f"/api/v1/public/campaigns/{slug}/{plural}/{activity_id}"


def _read(client: TestClient, slug: str, activity_id: int, token: dict[str, str]) -> dict:
    read = client.get(f"/api/v1/public/campaigns/{slug}/activities/{activity_id}", headers=token)
    assert read.status_code == 200, read.text
    body: dict = read.json()
    return body


def test_a_check_in_view_shows_my_streak_calendar_and_milestones(
    client: TestClient, brand: Brand, clock: ManualClock
) -> None:
    campaign = go_live(client, brand)
    slug = campaign["slug"]
    checkin = add_checkin(client, brand, campaign["id"])
    me, other = _token(client, slug), _token(client, slug)
    url = _api(slug, "checkins", checkin)
    assert _read(client, slug, checkin, me)["view_url"] == url
    first = client.get(url, headers=me).json()
    assert (first["can_check_in"], first["checked_today"], first["current_streak"]) == (
        True,
        False,
        0,
    )
    assert first["milestones"] == [2, 3]
    assert first["next_milestone"] == 2
    assert first["open"] is True
    assert (
        client.post(check_in_url(slug, checkin), json={"consent": True}, headers=me).status_code
        == 201
    )
    clock.advance(timedelta(days=1))
    done = client.post(check_in_url(slug, checkin), json={}, headers=me)
    assert done.status_code == 201, done.text
    assert done.json()["milestone"] == 2
    mine = client.get(url, headers=me).json()
    assert (mine["can_check_in"], mine["checked_today"], mine["current_streak"]) == (
        False,
        True,
        2,
    )
    assert mine["next_milestone"] == 3
    checked = [d["day"] for week in mine["weeks"] for d in week if d["checked"]]
    assert mine["today"] in checked
    assert mine["best_streak"] == mine["total_days"] == 2
    theirs = client.get(url, headers=other).json()
    assert (theirs["can_check_in"], theirs["current_streak"]) == (True, 0)


def test_a_draw_view_shows_the_prizes_left_and_what_i_won(client: TestClient, brand: Brand) -> None:
    campaign = go_live(client, brand)
    slug = campaign["slug"]
    draw = add_draw(client, brand, campaign["id"])
    me, other = _token(client, slug), _token(client, slug)
    url = _api(slug, "draws", draw)
    assert _read(client, slug, draw, me)["view_url"] == url
    before = client.get(url, headers=me).json()
    assert before["mode"] == "instant"
    assert before["can_enter"] is True
    assert [(p["name"], p["units"], p["left"], p["odds"]) for p in before["prizes"]] == [
        ("樱花保温杯", 2, 2, 1.0)
    ]
    entered = client.post(url + "/entries", json={"consent": True}, headers=me)
    assert entered.status_code == 201, entered.text
    after = client.get(url, headers=me).json()
    assert (after["entered"], after["can_enter"], after["prize"]) == (True, False, "樱花保温杯")
    assert after["entry_id"] == entered.json()["entry_id"]
    assert after["prizes"][0]["left"] == 1
    assert after["entries"] == 1
    theirs = client.get(url, headers=other).json()
    assert (theirs["entered"], theirs["prize"], theirs["can_enter"]) == (False, None, True)


def test_a_ugc_view_shows_the_rules_gallery_my_entries_and_votes_left(
    client: TestClient, brand: Brand
) -> None:
    campaign = go_live(client, brand)
    slug = campaign["slug"]
    made = client.post(
        f"/api/v1/campaigns/{campaign['id']}/ugcs",
        json={"title": "晒出你的春日咖啡", "hashtag": "山野春日", "votes_per_day": 2},
        headers=brand.auth(Role.OWNER),
    )
    assert made.status_code == 201, made.text
    contest = int(made.json()["id"])
    me, other = _token(client, slug), _token(client, slug)
    url = _api(slug, "ugcs", contest)
    assert _read(client, slug, contest, me)["view_url"] == url
    sent = client.post(
        url + "/entries",
        data={"consent": "true", "caption": "山野里的一杯春天"},
        files={"image": ("cup.jpg", photo(), "image/jpeg")},
        headers=me,
    )
    assert sent.status_code == 201, sent.text
    entry = sent.json()["entry"]
    mine = client.get(url, headers=me).json()
    assert mine["hashtag"] == "山野春日"
    assert (mine["allow_images"], mine["max_image_bytes"]) == (True, 8 * 1024 * 1024)
    assert "image/jpeg" in mine["image_types"]
    assert [(e["caption"], e["status"]) for e in mine["my_entries"]] == [
        ("山野里的一杯春天", "pending")
    ]
    assert mine["entries"] == []
    assert mine["entries_left"] == mine["entries_per_participant"] - 1
    approve(client, brand, contest, entry["id"])
    voted = client.post(f"{url}/entries/{entry['id']}/votes", json={"consent": True}, headers=other)
    assert voted.status_code == 201, voted.text
    theirs = client.get(url, headers=other).json()
    assert [e["id"] for e in theirs["entries"]] == [entry["id"]]
    assert theirs["entries"][0]["image_url"]
    assert theirs["voted_today"] == [entry["id"]]
    assert theirs["votes_left_today"] == 1
    assert theirs["my_entries"] == []
    assert client.get(url, headers=me).json()["voted_today"] == []


def test_a_cards_view_shows_my_set_gives_a_card_and_a_friend_takes_it(
    client: TestClient, brand: Brand, clock: ManualClock, db: Database
) -> None:
    campaign = go_live(client, brand)
    slug = campaign["slug"]
    checkin = add_checkin(client, brand, campaign["id"])
    cards = add_cards(db, clock, campaign["id"], set_points=50)
    me, friend = _token(client, slug), _token(client, slug)
    url = _api(slug, "cards", cards)
    assert _read(client, slug, cards, me)["view_url"] == url
    empty = client.get(url, headers=me).json()
    assert (empty["joined"], empty["set_completed"], empty["set_points"]) == (False, False, 50)
    assert [c["name"] for c in empty["cards"]] == ["爱国福", "富强福", "和谐福", "友善福", "敬业福"]
    assert sum(c["count"] for c in empty["cards"]) == 0
    assert (
        client.post(check_in_url(slug, checkin), json={"consent": True}, headers=me).status_code
        == 201
    )
    clock.advance(timedelta(minutes=1))
    draw_cards_job(db, clock)
    mine = client.get(url, headers=me).json()
    assert mine["joined"] is True
    assert sum(c["count"] for c in mine["cards"]) == 1
    [card] = mine["giftable"]
    # Nobody gives a card that is not theirs.
    assert client.post(
        url + "/gifts", json={"item_id": card["item_id"]}, headers=friend
    ).status_code in (409, 422)
    gift = client.post(url + "/gifts", json={"item_id": card["item_id"]}, headers=me)
    assert gift.status_code == 201, gift.text
    code = gift.json()["code"]
    offered = client.get(url, headers=me).json()
    assert [g["code"] for g in offered["open_gifts"]] == [code]
    assert offered["giftable"] == []
    seen = client.get(url + f"?gift={code}", headers=friend).json()
    assert seen["offer"]["open"] is True
    assert seen["offer"]["card_name"] == card["name"]
    taken = client.post(url + f"/gifts/{code}/claims", json={"consent": True}, headers=friend)
    assert taken.status_code == 201, taken.text
    assert taken.json()["name"] == card["name"]
    again = client.post(url + f"/gifts/{code}/claims", json={"consent": True}, headers=friend)
    assert again.status_code == 409
    assert sum(c["count"] for c in client.get(url, headers=friend).json()["cards"]) == 1
    assert sum(c["count"] for c in client.get(url, headers=me).json()["cards"]) == 0


def test_a_groupbuy_and_a_referral_name_their_existing_views(
    client: TestClient, brand: Brand
) -> None:
    campaign = go_live(client, brand)
    slug = campaign["slug"]
    offer = add_offer(client, brand, campaign["id"])
    made = client.post(
        f"/api/v1/campaigns/{campaign['id']}/referrals",
        json={"title": "邀请好友", "inviter_reward": {"kind": "points", "points": 20}},
        headers=brand.auth(Role.OWNER),
    )
    assert made.status_code == 201, made.text
    referral = int(made.json()["id"])
    me = _token(client, slug)
    assert _read(client, slug, offer, me)["view_url"] == _api(slug, "groupbuys", offer)
    assert _read(client, slug, referral, me)["view_url"] == _api(slug, "referrals", referral)
    opened = client.post(
        _api(slug, "groupbuys", offer) + "/teams", json={"consent": True}, headers=me
    )
    assert opened.status_code == 201, opened.text
    view = client.get(_api(slug, "groupbuys", offer), headers=me).json()
    assert view["my_team"]["code"] == opened.json()["code"]
    assert view["my_team"]["members"] == 1
    link = client.post(_api(slug, "referrals", referral) + "/link", json={}, headers=me)
    assert link.status_code == 200, link.text
    mine = client.get(_api(slug, "referrals", referral), headers=me).json()
    assert mine["share_url"].endswith(f"/s/{mine['share_code']}")


VIEWS = ("checkins", "ugcs", "draws", "cards")


@pytest.mark.parametrize("plural", VIEWS)
def test_a_new_view_refuses_a_forged_token_an_unknown_id_and_another_format(
    client: TestClient, brand: Brand, clock: ManualClock, db: Database, plural: str
) -> None:
    campaign = go_live(client, brand)
    slug = campaign["slug"]
    poll = client.post(
        f"/api/v1/campaigns/{campaign['id']}/polls",
        json={"title": "春季新品", "options": [{"label": "樱花拿铁"}, {"label": "抹茶冷萃"}]},
        headers=brand.auth(Role.OWNER),
    )
    assert poll.status_code == 201, poll.text
    me = _token(client, slug)
    forged = client.get(
        _api(slug, plural, 1), headers={"X-IM2-Token": "forged", "Accept-Language": "zh-CN"}
    )
    assert forged.status_code == 401
    assert "令牌" in forged.json()["error"]["message"]
    unknown = client.get(_api(slug, plural, 999999), headers=me)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"]
    wrong_kind = client.get(_api(slug, plural, poll.json()["id"]), headers=me)
    assert wrong_kind.status_code == 404
    assert wrong_kind.json()["error"]["message"]
    bad_id = client.get(f"/api/v1/public/campaigns/{slug}/{plural}/abc", headers=me)
    assert bad_id.status_code == 422
    assert bad_id.json()["error"]["field"]


def test_each_new_format_gets_its_renderer_and_its_words_in_the_frames_language(
    client: TestClient, brand: Brand
) -> None:
    campaign = go_live(client, brand)
    slug = campaign["slug"]
    offer = add_offer(client, brand, campaign["id"])
    draw = add_draw(client, brand, campaign["id"])
    for activity_id, renderer, other in (
        (offer, "embed-social.js", "embed-rewards.js"),
        (draw, "embed-rewards.js", "embed-social.js"),
    ):
        page = client.get(f"/e/{slug}/{activity_id}")
        assert page.status_code == 200
        assert f"/static/{renderer}" in page.text
        assert other not in page.text
        assert "embed-formats.js" not in page.text
    zh = _texts(client.get(f"/e/{slug}/{offer}").text)
    en = _texts(client.get(f"/e/{slug}/{offer}?lang=en").text)
    assert (zh["copy"], en["copy"]) == ("复制", "Copy")
    assert zh["team_status"]["open"] != en["team_status"]["open"]
    assert en["weekdays"] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert all("{n}" in t for t in (zh["votes_left"], en["votes_left"]))


def test_a_first_draw_under_a_replaced_consent_text_is_refused_and_stores_nothing(
    client: TestClient, brand: Brand
) -> None:
    campaign = go_live(client, brand)
    slug = campaign["slug"]
    draw = add_draw(client, brand, campaign["id"])
    me = _token(client, slug)
    stale = client.post(
        _api(slug, "draws", draw) + "/entries",
        json={"consent": True, "consent_sha256": "0" * 64},
        headers=me,
    )
    assert stale.status_code == 422, stale.text
    assert stale.json()["error"]["field"] == "consent_sha256"
    assert client.get(_api(slug, "draws", draw), headers=me).json()["entered"] is False
