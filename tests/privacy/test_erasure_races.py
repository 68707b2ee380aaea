"""Races on the real server: two erasures of one person at once do it once; an erasure while
the person votes ends consistent (every ballot counted once, none pointing at a participant
that is gone). SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy import text

from im2.clock import ManualClock
from im2.config import get_settings
from im2.db import Database
from im2.privacy.erasure import ErasureReport, erase_person
from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer
from tests.test_polls import POLL, vote_url


def _poll(live_server: LiveServer, brand: Brand) -> tuple[str, int, list[int]]:
    campaign = live_server.live_campaign(brand)
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        auth = brand.auth(Role.OWNER)
        created = http.post(f"/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=auth)
        assert created.status_code == 201, created.text
        poll_id = int(created.json()["id"])
        results = http.get(f"/api/v1/polls/{poll_id}/results", headers=auth).json()
    return campaign["slug"], poll_id, [o["id"] for o in results["options"]]


def _person_of_first_participant(db: Database) -> int:
    with db.session() as session:
        return int(
            session.execute(
                text(
                    "SELECT person_id FROM person_identities WHERE kind = 'participant' "
                    "ORDER BY id LIMIT 1"
                )
            ).scalar_one()
        )


def _erase(db: Database, brand: Brand, person: int, clock: ManualClock) -> ErasureReport:
    settings = get_settings()
    with db.transaction() as session:
        return erase_person(
            session,
            workspace_id=brand.workspace_id,
            person_id=person,
            now=clock.now(),
            lake_path=settings.lake_path,
            media_path=settings.media_path,
            reason="race",
        )


def _consistent(db: Database, poll_id: int) -> dict[str, Any]:
    with db.session() as session:
        counted = session.execute(
            text("SELECT coalesce(sum(vote_count), 0) FROM poll_options WHERE activity_id = :p"),
            {"p": poll_id},
        ).scalar_one()
        choices = session.execute(
            text(
                "SELECT count(*) FROM poll_choices c JOIN poll_ballots b ON b.id = c.ballot_id "
                "WHERE b.activity_id = :p AND b.held = false"
            ),
            {"p": poll_id},
        ).scalar_one()
        orphans = session.execute(
            text(
                "SELECT count(*) FROM poll_ballots b LEFT JOIN participants p "
                "ON p.id = b.participant_id WHERE p.id IS NULL"
            )
        ).scalar_one()
        erasures = session.execute(text("SELECT count(*) FROM privacy_erasures")).scalar_one()
    return {"counted": counted, "choices": choices, "orphans": orphans, "erasures": erasures}


def test_two_erasures_at_once_do_it_once(
    live_server: LiveServer, brand: Brand, db: Database, clock: ManualClock
) -> None:
    slug, poll_id, options = _poll(live_server, brand)
    with httpx.Client(base_url=live_server.url, timeout=60) as phone:
        voted = phone.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
        assert voted.status_code == 201, voted.text
    person = _person_of_first_participant(db)
    barrier = threading.Barrier(2)

    def go(_: int) -> ErasureReport:
        barrier.wait(timeout=30)
        return _erase(db, brand, person, clock)

    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(go, range(2)))
    assert sorted(r.already_erased for r in reports) == [False, True]
    assert len({r.erasure_id for r in reports}) == 1
    state = _consistent(db, poll_id)
    assert state == {"counted": 1, "choices": 1, "orphans": 0, "erasures": 1}


def test_erasure_while_the_person_votes_ends_consistent(
    live_server: LiveServer, brand: Brand, db: Database, clock: ManualClock
) -> None:
    slug, poll_id, options = _poll(live_server, brand)
    polls = [(poll_id, options)]
    for _ in range(3):  # more polls in the same campaign to vote on during the erasure
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            campaign_id = http.get("/api/v1/campaigns", headers=brand.auth(Role.OWNER)).json()[
                "items"
            ][0]["id"]
            created = http.post(
                f"/api/v1/campaigns/{campaign_id}/polls", json=POLL, headers=brand.auth(Role.OWNER)
            )
            assert created.status_code == 201, created.text
            pid = int(created.json()["id"])
            results = http.get(f"/api/v1/polls/{pid}/results", headers=brand.auth(Role.OWNER))
            polls.append((pid, [o["id"] for o in results.json()["options"]]))
    phone = httpx.Client(base_url=live_server.url, timeout=60)
    try:
        first = phone.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
        assert first.status_code == 201, first.text
        person = _person_of_first_participant(db)
        barrier = threading.Barrier(2)

        def votes() -> list[int]:
            barrier.wait(timeout=30)
            return [
                phone.post(
                    vote_url(slug, pid), json={"options": [opts[1]], "consent": True}
                ).status_code
                for pid, opts in polls[1:]
            ]

        def erase() -> ErasureReport:
            barrier.wait(timeout=30)
            return _erase(db, brand, person, clock)

        with ThreadPoolExecutor(2) as pool:
            voting = pool.submit(votes)
            erasing = pool.submit(erase)
            statuses, report = voting.result(timeout=120), erasing.result(timeout=120)
    finally:
        phone.close()
    assert not report.already_erased
    # Every vote either counted (before the erasure, now the stand-in's; or after it, as the
    # new visitor the phone is now) or refused with a clear answer: never a server error.
    assert all(s in (201, 409, 422) for s in statuses), statuses
    for pid, _opts in polls:
        state = _consistent(db, pid)
        assert state["counted"] == state["choices"], (pid, state)
        assert state["orphans"] == 0
    with db.session() as session:
        gone = session.execute(
            text("SELECT count(*) FROM people WHERE id = :p"), {"p": person}
        ).scalar_one()
    assert gone == 0
