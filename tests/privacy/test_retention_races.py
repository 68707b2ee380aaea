"""A retention run while one of the people it chose comes back and votes, on the real server
(SQLite and PostgreSQL): that person ends either kept whole (they acted before their batch
locked them) or anonymised whole (they acted after), never half; every vote is counted once
or refused with a clear answer, and the others are anonymised."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from im2.clock import ManualClock
from im2.config import get_settings
from im2.db import Database
from im2.privacy.retention import service as retention
from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer
from tests.test_polls import POLL, vote_url

PEOPLE = 12


def _count(db: Database, sql: str, **params: object) -> int:
    with db.session() as session:
        return int(session.execute(text(sql), params).scalar_one())


@pytest.mark.parametrize("x_last", [False, True], ids=["x-in-the-first-batch", "x-in-the-last"])
def test_a_person_voting_during_the_run_is_kept_or_anonymised_whole(
    live_server: LiveServer, brand: Brand, db: Database, clock: ManualClock, x_last: bool
) -> None:
    campaign = live_server.live_campaign(brand)
    slug, auth = campaign["slug"], brand.auth(Role.OWNER)
    polls: list[tuple[int, list[int]]] = []
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        for _ in range(4):
            created = http.post(
                f"/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=auth
            )
            assert created.status_code == 201, created.text
            pid = int(created.json()["id"])
            results = http.get(f"/api/v1/polls/{pid}/results", headers=auth).json()
            polls.append((pid, [o["id"] for o in results["options"]]))
    first_poll, options = polls[0]
    phones = [httpx.Client(base_url=live_server.url, timeout=60) for _ in range(PEOPLE)]
    try:
        for phone in phones:
            voted = phone.post(
                vote_url(slug, first_poll), json={"options": [options[0]], "consent": True}
            )
            assert voted.status_code == 201, voted.text
        with db.session() as session:
            participant_x, person_x = session.execute(
                text(
                    "SELECT CAST(value AS INTEGER), person_id FROM person_identities "
                    "WHERE kind = 'participant' ORDER BY id LIMIT 1"
                )
            ).one()
        clock.advance(timedelta(days=31))
        now = clock.now()
        since = now - timedelta(days=30)
        with db.session() as session:
            chosen = retention.inactive_people(
                session, workspace_id=brand.workspace_id, before=since, limit=100
            )
        assert len(chosen) == PEOPLE
        # X in the first batch (locked before their votes land, in practice: anonymised) or in
        # the last (their votes land first, in practice: kept); either way whole.
        others = [p for p in chosen if p != person_x]
        chosen = [*others, person_x] if x_last else [person_x, *others]
        barrier = threading.Barrier(2)
        x = phones[0]

        def votes() -> list[int]:
            barrier.wait(timeout=30)
            return [
                x.post(
                    vote_url(slug, pid), json={"options": [opts[1]], "consent": True}
                ).status_code
                for pid, opts in polls[1:]
            ]

        def run() -> int:
            barrier.wait(timeout=30)
            return retention.anonymise_people(
                db,
                workspace_id=brand.workspace_id,
                person_ids=chosen,
                inactive_since=since,
                now=now,
                lake_path=get_settings().lake_path,
                media_path=get_settings().media_path,
                tally=retention._Tally(),
                batch=5,
            )

        with ThreadPoolExecutor(2) as pool:
            voting, running = pool.submit(votes), pool.submit(run)
            statuses, anonymised = voting.result(timeout=120), running.result(timeout=120)
    finally:
        for phone in phones:
            phone.close()

    assert all(s in (201, 409, 422) for s in statuses), statuses
    for pid, _opts in polls:
        counted = _count(
            db,
            "SELECT coalesce(sum(vote_count), 0) FROM poll_options WHERE activity_id = :p",
            p=pid,
        )
        choices = _count(
            db,
            "SELECT count(*) FROM poll_choices c JOIN poll_ballots b ON b.id = c.ballot_id "
            "WHERE b.activity_id = :p AND b.held = false",
            p=pid,
        )
        assert counted == choices, pid
    orphans = _count(
        db,
        "SELECT count(*) FROM poll_ballots b LEFT JOIN participants p "
        "ON p.id = b.participant_id WHERE p.id IS NULL",
    )
    assert orphans == 0
    person_left = _count(db, "SELECT count(*) FROM people WHERE id = :p", p=person_x)
    participant_left = _count(
        db, "SELECT count(*) FROM participants WHERE id = :p", p=participant_x
    )
    identities_left = _count(
        db, "SELECT count(*) FROM person_identities WHERE person_id = :p", p=person_x
    )
    erased = _count(db, "SELECT count(*) FROM privacy_erasures WHERE person_id = :p", p=person_x)
    if person_left:  # kept whole: X voted before their batch locked them
        assert (participant_left, erased, anonymised) == (1, 0, PEOPLE - 1)
        assert identities_left >= 2
    else:  # anonymised whole: X's votes came after, as a new visitor or refused
        assert (participant_left, identities_left, erased, anonymised) == (0, 0, 1, PEOPLE)
    # Everyone else is anonymised, and only once.
    assert _count(db, "SELECT count(*) FROM privacy_erasures") == anonymised
