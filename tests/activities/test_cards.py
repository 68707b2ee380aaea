"""集卡 (collect the set): cards drawn for taking part elsewhere in the campaign (verifiable from
the seed shown at the end), gifts by one-time link through the giver's share link, a full set
paid once, the console's live results and export, and bad input refused with a clear 4xx."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from im2.activities.formats.cards import service
from im2.activities.formats.cards.jobs import draw_cards_job
from im2.activities.formats.cards.schemas import CardsCreate, CardSpec
from im2.activities.live import activity_channel
from im2.clock import ManualClock
from im2.db import Database
from im2.events.service import list_events
from im2.incentives import service as incentives
from im2.workspaces.schemas import Role
from im2.workspaces.service import system_actor
from tests.activities.test_checkin import add_checkin, check_in_url
from tests.conftest import Brand, go_live

FIVE = [("爱国福", 30), ("富强福", 30), ("和谐福", 25), ("友善福", 14), ("敬业福", 1)]


def add_cards(
    db: Database,
    clock: ManualClock,
    campaign_id: int,
    cards: list[tuple[str, int]] = FIVE,
    **rules: Any,
) -> int:
    with db.transaction() as session:
        made = service.do_create_cards(
            session,
            actor=system_actor(session, workspace_slug="acme"),
            campaign_id=campaign_id,
            data=CardsCreate(
                title="集五福",
                cards=[
                    CardSpec(key=f"c{i + 1}", name=name, weight=weight)
                    for i, (name, weight) in enumerate(cards)
                ],
                **rules,
            ),
            now=clock.now(),
        )
    return made.id


def page(phone: TestClient, slug: str, activity_id: int, query: str = "") -> str:
    response = phone.get(f"/c/{slug}/cards/{activity_id}{query}")
    assert response.status_code == 200, response.text
    return response.text


def form_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'name="(csrf_token|shown)" value="([^"]+)"', html))


def my_items(html: str) -> list[str]:
    """The card ids the page offers to give away."""
    box = html.split('name="item"', 1)[1].split("</select>", 1)[0] if 'name="item"' in html else ""
    return re.findall(r'<option value="(\d+)"', box)


def gift_codes(html: str) -> list[str]:
    return re.findall(r'data-gift="([a-z0-9]+)"', html)


def export(client: TestClient, activity_id: int) -> list[dict[str, str]]:
    response = client.get(f"/console/w/acme/cards/{activity_id}/export.csv")
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))


def console(client: TestClient, brand: Brand) -> TestClient:
    from tests.test_auth import login

    login(client, brand.emails[Role.EDITOR])
    return client


def gift(phone: TestClient, slug: str, activity_id: int, item: str, **extra: str):
    html = page(phone, slug, activity_id)
    return phone.post(
        f"/c/{slug}/cards/{activity_id}/gift",
        data={**form_fields(html), "item": item, **extra},
        follow_redirects=False,
    )


def claim(
    phone: TestClient,
    slug: str,
    activity_id: int,
    code: str,
    consent: bool = True,
    fields: dict[str, str] | None = None,
):
    """Take a gift from its page (or with the form `fields` of a page loaded earlier)."""
    if fields is None:
        fields = form_fields(page(phone, slug, activity_id, f"?gift={code}"))
    data = {**fields, "gift": code}
    if consent:
        data["consent"] = "yes"
    return phone.post(f"/c/{slug}/cards/{activity_id}/claim", data=data, follow_redirects=False)


def test_taking_part_draws_one_card_per_event_and_anyone_can_check_the_draw(
    client: TestClient, brand: Brand, clock: ManualClock, db: Database
) -> None:
    campaign = go_live(client, brand)
    slug = campaign["slug"]
    checkin = add_checkin(client, brand, campaign["id"])
    poll = client.post(
        f"/api/v1/campaigns/{campaign['id']}/polls",
        json={"title": "春季新品", "options": [{"label": "樱花拿铁"}, {"label": "抹茶冷萃"}]},
        headers=brand.auth(Role.OWNER),
    ).json()
    cards = add_cards(db, clock, campaign["id"])
    alice, bob = TestClient(client.app), TestClient(client.app)

    # The odds are published before anyone takes part, with the seed's fingerprint.
    html = page(alice, slug, cards)
    assert "敬业福" in html
    assert "1.00%" in html
    assert "30.00%" in html
    commitment = re.search(r"data-commitment>([0-9a-f]{64})<", html)
    assert commitment is not None
    assert "data-seed" not in html

    # Alice checks in on two days; Bob arrives through Alice's share link and checks in.
    assert alice.post(check_in_url(slug, checkin), json={"consent": True}).status_code == 201
    clock.advance(timedelta(days=1))
    assert alice.post(check_in_url(slug, checkin), json={}).status_code == 201
    code = re.search(r"/s/([a-z0-9]+)\?", alice.get(f"/c/{slug}/share").text)
    assert code is not None
    bob.get(f"/s/{code.group(1)}")
    assert bob.post(check_in_url(slug, checkin), json={"consent": True}).status_code == 201
    results = client.get(f"/api/v1/polls/{poll['id']}/results", headers=brand.auth(Role.OWNER))
    option = results.json()["options"][0]["id"]
    vote = bob.post(
        f"/api/v1/public/campaigns/{slug}/polls/{poll['id']}/votes", json={"options": [option]}
    )
    assert vote.status_code == 201, vote.text

    clock.advance(timedelta(minutes=1))  # the draw leaves the last seconds' events for later
    draw_cards_job(db, clock)
    draw_cards_job(db, clock)  # a second run draws nothing again
    rows = export(console(client, brand), cards)
    # Alice: two check-ins and a friend brought; Bob: his check-in and his vote.
    by_person: dict[str, int] = {}
    for row in rows:
        by_person[row["drawn_by_participant_id"]] = (
            by_person.get(row["drawn_by_participant_id"], 0) + 1
        )
    assert sorted(by_person.values()) == [2, 3]
    assert len({r["source_event_id"] for r in rows}) == len(rows) == 5
    assert len(my_items(page(alice, slug, cards))) == 3

    # The campaign ends: the seed is shown and matches the fingerprint; every card follows
    # from HMAC-SHA256(seed, event id) placed on the published weights.
    client.post(
        f"/api/v1/campaigns/{campaign['id']}/transitions",
        json={"status": "ended"},
        headers=brand.auth(Role.OWNER),
    ).raise_for_status()
    ended = page(alice, slug, cards)
    seed = re.search(r"data-seed>([0-9a-f]{64})<", ended)
    assert seed is not None
    assert hashlib.sha256(bytes.fromhex(seed.group(1))).hexdigest() == commitment.group(1)
    # The seed lives in no settings: the console's API never showed it.
    read = client.get(f"/api/v1/activities/{cards}", headers=brand.auth(Role.ANALYST))
    assert read.status_code == 200
    assert seed.group(1) not in read.text
    weights = [w for _name, w in FIVE]
    for row in rows:
        mac = hmac.new(
            bytes.fromhex(seed.group(1)), row["source_event_id"].encode(), hashlib.sha256
        ).hexdigest()
        assert row["ticket"] == mac
        point = int(mac[:13], 16) / 2**52 * sum(weights)
        index = next(i for i in range(len(weights)) if point < sum(weights[: i + 1]))
        assert row["card_name"] == FIVE[index][0]


def test_a_gift_moves_the_card_and_brings_the_friend_through_the_share_tree(
    client: TestClient, brand: Brand, clock: ManualClock, db: Database, app
) -> None:
    campaign = go_live(client, brand)
    slug = campaign["slug"]
    checkin = add_checkin(client, brand, campaign["id"])
    cards = add_cards(db, clock, campaign["id"], gift_hours=24)
    alice, bob, carol = (TestClient(client.app) for _ in range(3))
    for _day in range(2):
        assert alice.post(check_in_url(slug, checkin), json={"consent": True}).status_code == 201
        clock.advance(timedelta(days=1))
    draw_cards_job(db, clock)
    first, second = my_items(page(alice, slug, cards))

    made = gift(alice, slug, cards, first)
    assert made.status_code == 303
    after = alice.get(made.headers["location"]).text
    assert "赠送链接已生成" in after
    (code,) = gift_codes(after)
    assert my_items(after) == [second]  # a card on offer cannot be offered twice
    again = gift(alice, slug, cards, first)
    assert again.status_code == 409
    assert "已在赠送中" in again.text

    # Alice cannot take her own gift; Bob, new here, takes it through her link.
    own = claim(alice, slug, cards, code)
    assert own.status_code == 409
    assert "你自己的赠送" in own.text
    offer = page(bob, slug, cards, f"?gift={code}")
    # Carol opens the same link before Bob takes it (her page keeps its button).
    stale = form_fields(page(carol, slug, cards, f"?gift={code}"))
    assert "好友送你一张卡" in offer
    taken = claim(bob, slug, cards, code)
    assert taken.status_code == 303, taken.text
    assert "这张卡归你了" in bob.get(taken.headers["location"]).text
    assert len(my_items(page(bob, slug, cards))) == 1
    assert my_items(page(alice, slug, cards)) == [second]
    assert app.state.hub.latest(activity_channel(cards)) is not None  # the console is told

    with db.session() as session:
        links = {e.referrer for e in list_events(session, kinds=["card.gifted"])}
        clicks = list_events(session, kinds=["share.clicked"])
        joined = list_events(session, kinds=["participant.joined"])
    assert [c.referrer for c in clicks] == list(links)
    assert [j.referrer for j in joined if j.referrer] == list(links)

    # Used, expired, unknown and missing codes: a clear refusal, nothing moves.
    used = claim(carol, slug, cards, code, fields=stale)
    assert used.status_code == 409
    assert "已被领取" in used.text
    late = gift(alice, slug, cards, second)
    (late_code,) = gift_codes(alice.get(f"/c/{slug}/cards/{cards}").text)
    late_page = form_fields(page(carol, slug, cards, f"?gift={late_code}"))
    clock.advance(timedelta(hours=25))
    expired = claim(carol, slug, cards, late_code, fields=late_page)
    assert late.status_code == 303
    assert expired.status_code == 409
    assert "已过期" in expired.text
    assert my_items(page(alice, slug, cards)) == [second]  # back in hand, giftable again
    assert claim(carol, slug, cards, "nosuchcode23", fields=stale).status_code == 404
    assert claim(carol, slug, cards, "", fields=stale).status_code == 422

    # Giving a card one does not have, or that does not exist.
    bobs = my_items(page(bob, slug, cards))[0]
    assert gift(alice, slug, cards, bobs).status_code == 409
    assert gift(alice, slug, cards, "999999").status_code == 404
    assert gift(alice, slug, cards, "abc").status_code == 422
    assert my_items(page(bob, slug, cards)) == [bobs]


def test_a_full_set_pays_its_points_once(
    client: TestClient, brand: Brand, clock: ManualClock, db: Database
) -> None:
    campaign = go_live(client, brand)
    slug = campaign["slug"]
    checkin = add_checkin(client, brand, campaign["id"])
    cards = add_cards(db, clock, campaign["id"], [("福", 1), ("禄", 1)], set_points=88)
    alice = TestClient(client.app)
    consent = {"consent": True}
    for _day in range(30):  # two equally likely cards: both long before 30 draws
        assert alice.post(check_in_url(slug, checkin), json=consent).status_code == 201
        clock.advance(timedelta(days=1))
        draw_cards_job(db, clock)
        if "你已集齐" in page(alice, slug, cards):
            break
    for _day in range(3):  # more cards after the set: no second reward
        alice.post(check_in_url(slug, checkin), json=consent)
        clock.advance(timedelta(days=1))
        draw_cards_job(db, clock)
    rows = export(console(client, brand), cards)
    person = int(rows[0]["owner_participant_id"])
    with db.session() as session:
        balance = incentives.get_balance(
            session, workspace_id=brand.workspace_id, participant_id=person, now=clock.now()
        )
        completed = list_events(session, kinds=["card.set_completed"])
    assert balance.points == 88
    assert len(completed) == 1
    assert {r["set_completed_by_owner"] for r in rows} == {"True"}
    detail = client.get(f"/console/w/acme/cards/{cards}").text
    assert re.search(r'data-stat="sets">1<', detail)


def test_console_creates_a_set_shows_live_results_and_exports(
    client: TestClient, brand: Brand, clock: ManualClock, db: Database, app
) -> None:
    from tests.test_console import form_token

    campaign = go_live(client, brand)
    slug = campaign["slug"]
    checkin = add_checkin(client, brand, campaign["id"])
    console(client, brand)
    new_page = f"/console/w/acme/campaigns/{campaign['id']}/cards/new"
    action = f"/console/w/acme/campaigns/{campaign['id']}/cards"
    form = client.get(new_page).text
    assert "敬业福, 1" in form  # the 集五福 default, a rare card included

    def create(**fields: str):
        return client.post(
            action,
            data={"csrf_token": form_token(client, new_page, action), **fields},
            follow_redirects=False,
        )

    one_card = create(title="集卡", cards="福, 1", set_points="10", gift_hours="24")
    same_names = create(title="集卡", cards="福, 1\n福, 2", set_points="10", gift_hours="24")
    no_points = create(title="集卡", cards="福, 1\n禄, 2", set_points="-5", gift_hours="24")
    for refused in (one_card, same_names, no_points):
        assert refused.status_code == 422, refused.text
    assert 'id="cards-error"' in one_card.text
    assert 'id="set_points-error"' in no_points.text

    made = create(title="集三星", cards="福星，5\n禄星 3\n寿星", set_points="50", gift_hours="24")
    assert made.status_code == 303, made.text
    cards = int(made.headers["location"].rsplit("/", 1)[1])
    public = page(TestClient(client.app), slug, cards)
    assert "55.56%" in public  # 5 of 9
    assert "11.11%" in public  # 寿星: no weight given counts 1

    detail = client.get(made.headers["location"])
    assert detail.status_code == 200
    live = f'data-live="/console/w/acme/activities/{cards}/live"'
    assert live in detail.text
    assert re.search(r'data-stat="collectors">0<', detail.text)

    phone = TestClient(client.app)
    for _day in range(3):
        assert phone.post(check_in_url(slug, checkin), json={"consent": True}).status_code == 201
        clock.advance(timedelta(days=1))
    draw_cards_job(db, clock)
    item = my_items(page(phone, slug, cards))[0]
    assert gift(phone, slug, cards, item).status_code == 303
    assert app.state.hub.latest(activity_channel(cards)) is not None  # the page is told

    console(client, brand)  # three days on: the console session has ended
    again = client.get(made.headers["location"]).text
    assert re.search(r'data-stat="collectors">1<', again)
    assert re.search(r'data-stat="gifts">1 / 0<', again)
    drawn = re.findall(r'data-card="c\d">.*?data-label="抽出张数">(\d+)<', again, flags=re.S)
    assert sum(int(n) for n in drawn) == 3

    rows = export(client, cards)
    assert len(rows) == 3
    assert {r["card_name"] for r in rows} <= {"福星", "禄星", "寿星"}
    assert {r["drawn_by_participant_id"] for r in rows} == {r["owner_participant_id"] for r in rows}
    viewer = TestClient(client.app)
    anonymous = viewer.get(f"/console/w/acme/cards/{cards}/export.csv", follow_redirects=False)
    assert anonymous.status_code in (303, 401, 403)
    assert "ticket" not in anonymous.text
