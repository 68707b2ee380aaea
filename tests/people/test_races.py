"""Races on the real server: phones verifying the same number at the same moment end as one
person, with nothing lost or doubled (run on SQLite and on PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select

from im2.db import Database
from im2.participation.senders import MemorySender
from im2.people.models import Person, PersonIdentity, PersonMerge
from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer
from tests.people.helpers import me_token, request_code, type_code, verify

DEVICES = 8


def _together(calls: list[tuple[httpx.Client, str, str, str]], slug: str) -> list[int]:
    """Type every (phone, channel, code) at once; the status codes."""
    barrier = threading.Barrier(len(calls))

    def go(call: tuple[httpx.Client, str, str, str]) -> int:
        http, channel, code, _dest = call
        # The verify form is read first (its CSRF token), then everyone posts together.
        token = me_token(http, slug, "verify", channel)
        barrier.wait(timeout=60)
        return int(type_code(http, slug, channel, code, token).status_code)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(go, calls))


def _state(db: Database, workspace_id: int) -> tuple[int, Counter[str], int, int]:
    with db.session() as session:
        live = session.scalar(
            select(func.count())
            .select_from(Person)
            .where(Person.workspace_id == workspace_id, Person.merged_into_id.is_(None))
        )
        kinds = Counter(
            dict(
                session.execute(
                    select(PersonIdentity.kind, func.count())
                    .where(PersonIdentity.workspace_id == workspace_id)
                    .group_by(PersonIdentity.kind)
                ).all()
            )
        )
        holders = session.scalar(
            select(func.count(func.distinct(PersonIdentity.person_id))).where(
                PersonIdentity.workspace_id == workspace_id
            )
        )
        merges = session.scalar(select(func.count()).select_from(PersonMerge))
    return int(live or 0), kinds, int(holders or 0), int(merges or 0)


def test_phones_verifying_one_number_at_once_end_as_one_person(
    live_server: LiveServer, brand: Brand, db: Database
) -> None:
    outbox = MemorySender()
    live_server.app.state.code_sender = outbox
    campaign = live_server.live_campaign(brand)
    slug = campaign["slug"]
    phones = [httpx.Client(base_url=live_server.url, timeout=60) for _ in range(DEVICES)]
    try:
        # Every phone joins and asks for a code for the same number, one after the other.
        codes = [request_code(p, slug, outbox, "phone", "13912345678") for p in phones]
        statuses = _together(
            [(p, "phone", c, "13912345678") for p, c in zip(phones, codes, strict=True)], slug
        )
        assert statuses == [303] * DEVICES
        live, kinds, holders, merges = _state(db, brand.workspace_id)
        assert live == 1
        assert holders == 1
        assert kinds == {"device": DEVICES, "participant": DEVICES, "phone": 1}
        assert merges == DEVICES - 1

        # Chains: one phone already has an e-mail; at the same moment three phones verify a new
        # number (that phone among them) and three others that e-mail. All six become one.
        more = [httpx.Client(base_url=live_server.url, timeout=60) for _ in range(6)]
        phones += more
        verify(more[2], slug, outbox, "email", "chain@example.com")
        calls = [
            (p, "phone", request_code(p, slug, outbox, "phone", "13987654321"), "")
            for p in more[:3]
        ] + [
            (p, "email", request_code(p, slug, outbox, "email", "chain@example.com"), "")
            for p in more[3:]
        ]
        assert _together(calls, slug) == [303] * 6
        live, kinds, holders, merges = _state(db, brand.workspace_id)
        assert live == 2
        assert holders == 2
        assert kinds == {
            "device": DEVICES + 6,
            "participant": DEVICES + 6,
            "phone": 2,
            "email": 1,
        }
        assert merges == (DEVICES - 1) + 5
        listed = httpx.get(
            f"{live_server.url}/api/v1/people", headers=brand.auth(Role.EDITOR), timeout=60
        ).json()["items"]
        assert sorted(p["identities"]["device"] for p in listed) == [6, DEVICES]
    finally:
        for p in phones:
            p.close()
