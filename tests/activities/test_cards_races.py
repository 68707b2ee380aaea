"""集卡 races on the real database, two threads at once: the same card gifted twice makes one
gift, and one gift claimed by two friends goes to one of them (the other is told, 409)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from im2.activities.formats.cards import service
from im2.activities.formats.cards.jobs import draw_cards_job
from im2.clock import ManualClock
from im2.db import Database
from im2.errors import Conflict
from im2.participation.schemas import Visitor
from tests.activities.test_cards import add_cards
from tests.activities.test_checkin import add_checkin, check_in_url
from tests.conftest import Brand, go_live


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; each result or the exception it raised."""
    start = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        start.wait()
        try:
            outcomes[index] = calls[index]()
        except Exception as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def visitor(device_id: str) -> Visitor:
    return Visitor(device_id=device_id, ip="10.0.0.9", user_agent="pytest")


def a_card(client: TestClient, brand: Brand, db: Database, clock: ManualClock):
    """A live campaign whose first participant checked in and drew one card."""
    campaign = go_live(client, brand)
    checkin = add_checkin(client, brand, campaign["id"])
    cards = add_cards(db, clock, campaign["id"])
    phone = TestClient(client.app)
    assert phone.post(check_in_url(campaign["slug"], checkin), json={"consent": True}).is_success
    clock.advance(timedelta(minutes=1))  # the draw leaves the last seconds' events for later
    draw_cards_job(db, clock)
    from im2.activities.formats.cards.models import CardItem
    from im2.participation.models import Participant

    with db.session() as session:
        item_id, owner_id = session.execute(select(CardItem.id, CardItem.owner_id)).one()
        participant = session.get(Participant, owner_id)
        assert participant is not None
        device = participant.device_id
    return campaign["slug"], cards, item_id, device


def gift(db: Database, clock: ManualClock, slug: str, cards: int, item: int, device: str):
    with db.transaction() as session:
        return service.do_gift(
            session,
            slug=slug,
            activity_id=cards,
            item_id=item,
            visitor=visitor(device),
            now=clock.now(),
        )


def test_the_same_card_gifted_twice_at_once_makes_one_gift(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    slug, cards, item, device = a_card(client, brand, db, clock)
    outcomes = at_once(
        lambda: gift(db, clock, slug, cards, item, device),
        lambda: gift(db, clock, slug, cards, item, device),
    )
    made = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert (len(made), len(refused)) == (1, 1), outcomes
    from im2.activities.formats.cards.models import CardGift

    with db.session() as session:
        assert [g.code for g in session.scalars(select(CardGift))] == [made[0].code]


def test_one_gift_claimed_by_two_friends_at_once_goes_to_one(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    slug, cards, item, device = a_card(client, brand, db, clock)
    code = gift(db, clock, slug, cards, item, device).code

    def claim(friend: str) -> Any:
        with db.transaction() as session:
            return service.do_claim(
                session,
                slug=slug,
                activity_id=cards,
                code=code,
                visitor=visitor(friend),
                consented=True,
                seconds_on_page=5.0,
                risk_threshold=0.99,
                identities_per_ip_hour=1000,
                now=clock.now(),
            )

    outcomes = at_once(lambda: claim("f" * 32), lambda: claim("e" * 32))
    taken = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert (len(taken), len(refused)) == (1, 1), outcomes
    from im2.activities.formats.cards.models import CardItem
    from im2.participation.models import Participant

    with db.session() as session:
        owner = session.scalar(select(CardItem.owner_id).where(CardItem.id == item))
        device = session.scalar(select(Participant.device_id).where(Participant.id == owner))
    assert device in ("f" * 32, "e" * 32)
