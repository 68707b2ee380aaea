"""Writes racing each other through a real server on loopback (threads, real connections)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from im2.clock import ManualClock
from im2.db import Database
from im2.errors import Conflict
from im2.events.service import list_events
from im2.live.hub import Hub
from im2.participation.schemas import Visitor
from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer, campaign_payload


def _post_all(
    url: str, jobs: list[tuple[dict[str, str], dict[str, object]]]
) -> list[httpx.Response]:
    def post(job: tuple[dict[str, str], dict[str, object]]) -> httpx.Response:
        headers, body = job
        return httpx.post(url, json=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(post, jobs))


def _campaign_count(server: LiveServer, brand: Brand) -> int:
    r = httpx.get(f"{server.url}/api/v1/campaigns?limit=100", headers=brand.auth(Role.OWNER))
    return len(r.json()["items"])


def test_same_slug_at_once_gives_one_campaign_and_clean_conflicts(
    live_server: LiveServer, brand: Brand
) -> None:
    jobs = [(brand.auth(Role.OWNER), campaign_payload(name=f"race {i}")) for i in range(24)]
    responses = _post_all(f"{live_server.url}/api/v1/campaigns", jobs)
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1
    assert codes.count(409) == 23, codes  # never a 500 or a "database is locked"
    assert _campaign_count(live_server, brand) == 1


def test_same_idempotency_key_at_once_writes_once(live_server: LiveServer, brand: Brand) -> None:
    headers = {**brand.auth(Role.OWNER), "Idempotency-Key": "order-42"}
    responses = _post_all(
        f"{live_server.url}/api/v1/campaigns", [(headers, campaign_payload()) for _ in range(20)]
    )
    ok = [r for r in responses if r.status_code == 201]
    assert ok, [r.status_code for r in responses]
    assert {r.json()["id"] for r in ok} == {ok[0].json()["id"]}
    assert all(r.status_code in (201, 409) for r in responses)
    assert _campaign_count(live_server, brand) == 1


def test_many_distinct_writes_all_land(live_server: LiveServer, brand: Brand) -> None:
    jobs = [(brand.auth(Role.EDITOR), campaign_payload(slug=f"c-{i}")) for i in range(40)]
    responses = _post_all(f"{live_server.url}/api/v1/campaigns", jobs)
    assert [r.status_code for r in responses] == [201] * 40
    assert _campaign_count(live_server, brand) == 40


def test_hundred_people_voting_twice_at_once_count_once_each(
    live_server: LiveServer, brand: Brand
) -> None:
    from tests.test_polls import POLL

    owner = brand.auth(Role.OWNER)
    base = live_server.url
    campaign = live_server.live_campaign(brand)
    poll = httpx.post(
        f"{base}/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=owner
    ).json()
    options = [
        o["id"]
        for o in httpx.get(f"{base}/api/v1/polls/{poll['id']}/results", headers=owner).json()[
            "options"
        ]
    ]
    url = f"{base}/api/v1/public/campaigns/{campaign['slug']}/polls/{poll['id']}/votes"

    # 100 phones: each gets its device cookie from the public page, then votes twice at once.
    phones = []
    for _ in range(100):
        phone = httpx.Client(timeout=30)
        phone.get(f"{base}/c/{campaign['slug']}").raise_for_status()
        phones.append(phone)

    def vote(job: tuple[int, int]) -> int:
        index, attempt = job
        body = {"options": [options[(index + attempt) % 3]], "consent": True}
        return phones[index].post(url, json=body).status_code

    jobs = [(i, attempt) for i in range(100) for attempt in range(2)]
    with ThreadPoolExecutor(max_workers=32) as pool:
        codes = list(pool.map(vote, jobs))
    for phone in phones:
        phone.close()
    assert codes.count(201) == 100, sorted(set(codes))
    assert codes.count(409) == 100
    results = httpx.get(f"{base}/api/v1/polls/{poll['id']}/results", headers=owner).json()
    assert results["ballots"] == 100
    assert results["voters"] == 100
    assert sum(o["votes"] for o in results["options"]) == 100


def test_one_phone_voting_at_once_gets_exactly_its_daily_allowance(
    live_server: LiveServer, brand: Brand
) -> None:
    from tests.test_polls import POLL

    owner = brand.auth(Role.OWNER)
    base = live_server.url
    campaign = live_server.live_campaign(brand)
    poll = httpx.post(
        f"{base}/api/v1/campaigns/{campaign['id']}/polls",
        json={**POLL, "vote_limit": "daily", "votes_per_day": 3},
        headers=owner,
    ).json()
    options = [
        o["id"]
        for o in httpx.get(f"{base}/api/v1/polls/{poll['id']}/results", headers=owner).json()[
            "options"
        ]
    ]
    url = f"{base}/api/v1/public/campaigns/{campaign['slug']}/polls/{poll['id']}/votes"
    cookies = live_server.phone_cookies(campaign["slug"])

    def vote(index: int) -> httpx.Response:
        with httpx.Client(timeout=30, cookies=cookies) as same_phone:
            return same_phone.post(url, json={"options": [options[index % 3]], "consent": True})

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(vote, range(8)))

    codes = sorted(a.status_code for a in answers)
    assert codes == [201] * 3 + [409] * 5, [a.text for a in answers]
    for refused in (a for a in answers if a.status_code == 409):
        assert "all 3 votes" in refused.json()["error"]["message"]
    results = httpx.get(f"{base}/api/v1/polls/{poll['id']}/results", headers=owner).json()
    assert results["ballots"] == 3
    assert results["voters"] == 1


# --- the vote's group commit -------------------------------------------------------------------


def _ballots(db: Database, activity_id: int) -> int:
    with db.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM poll_ballots WHERE activity_id = :a"), {"a": activity_id}
            ).scalar_one()
        )


def _vote(slug: str, activity_id: int, option: int, device: str | None, now: datetime) -> Any:
    from im2.activities.formats.poll.service import VoteRequest

    return VoteRequest(
        slug=slug,
        activity_id=activity_id,
        visitor=Visitor(device_id=device, ip="10.0.0.7", user_agent="test"),  # type: ignore[arg-type]
        option_ids=[option],
        consented=True,
        seconds_on_page=5.0,
        risk_threshold=0.8,
        identities_per_ip_hour=1000,
        now=now,
        locale="en",
    )


@contextmanager
def _writer_busy(db: Database) -> Iterator[threading.Event]:
    """Keep the writer inside a transaction until the block ends: whatever is queued
    meanwhile is committed together, as one batch."""
    started, release = threading.Event(), threading.Event()

    def hold(_session: Session, items: Sequence[object]) -> list[None]:
        started.set()
        release.wait(30)
        return [None for _ in items]

    blocker = db.group_commit(hold, None)
    assert started.wait(30)
    try:
        yield release
    finally:
        release.set()
        blocker.result(30)


def _settle(futures: list[Future[Any]]) -> list[Any]:
    return [f.exception(30) or f.result() for f in futures]


def test_votes_queued_together_commit_once_and_a_duplicate_fails_alone(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    from im2.activities.formats.poll.live import submit_vote
    from im2.activities.formats.poll.schemas import VoteReceipt
    from tests.test_polls import live_campaign

    slug, activity_id, options = live_campaign(client, brand)
    hub = Hub()
    commits: list[int] = []

    def count_commit(_conn: object) -> None:
        commits.append(1)

    devices = ["phone-a", "phone-b", "phone-a", "phone-c"]
    with _writer_busy(db):
        event.listen(db.engine, "commit", count_commit)
        futures = [
            submit_vote(db, hub, _vote(slug, activity_id, options[0], d, clock.now()))
            for d in devices
        ]
    outcomes = _settle(futures)
    event.remove(db.engine, "commit", count_commit)
    assert len(commits) == 1  # four requests, one transaction
    assert [type(o) for o in outcomes] == [VoteReceipt, VoteReceipt, Conflict, VoteReceipt]
    assert outcomes[2].message == "You have already voted in this poll."
    assert _ballots(db, activity_id) == 3
    # Every answer carries the results as they stood after the whole batch.
    assert {o.results.ballots for o in outcomes if isinstance(o, VoteReceipt)} == {3}
    # The live channel got the batch's results without a reload.
    assert json.loads(hub.latest(f"activity:{activity_id}:results") or "{}")["ballots"] == 3
    with db.session() as session:
        kinds = [e.kind for e in list_events(session, workspace_id=brand.workspace_id)]
    assert kinds.count("vote.cast") == 3
    assert kinds.count("participant.joined") == 3


def test_a_ballot_that_crashes_does_not_take_the_batch_with_it(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    from im2.activities.formats.poll.live import submit_vote
    from im2.activities.formats.poll.schemas import VoteReceipt
    from tests.test_polls import live_campaign

    slug, activity_id, options = live_campaign(client, brand)
    hub = Hub()
    # A device id of None is a bug in a caller: the batch fails on it as a whole, and the
    # writer then runs each vote alone so that only that one fails.
    devices = ["phone-a", None, "phone-b", "phone-a"]
    with _writer_busy(db):
        futures = [
            submit_vote(db, hub, _vote(slug, activity_id, options[1], d, clock.now()))
            for d in devices
        ]
    outcomes = _settle(futures)
    assert isinstance(outcomes[0], VoteReceipt)
    # (the error is the crash itself: a TypeError in the batch, the NOT NULL constraint alone)
    assert isinstance(outcomes[1], Exception)
    assert not isinstance(outcomes[1], Conflict)
    assert isinstance(outcomes[2], VoteReceipt)
    assert isinstance(outcomes[3], Conflict)
    assert _ballots(db, activity_id) == 2


def test_an_answer_is_given_only_once_its_vote_is_committed(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    from im2.activities.formats.poll.live import submit_vote
    from tests.test_polls import live_campaign

    slug, activity_id, options = live_campaign(client, brand)
    hub = Hub()
    seen_when_answered: list[int] = []
    all_answered = threading.Semaphore(0)

    def on_answer(_future: Future[Any]) -> None:
        # Another connection must already see the ballot when the answer is ready.
        seen_when_answered.append(_ballots(db, activity_id))
        all_answered.release()

    with _writer_busy(db):
        futures = [
            submit_vote(db, hub, _vote(slug, activity_id, options[0], f"phone-{i}", clock.now()))
            for i in range(5)
        ]
        for f in futures:
            f.add_done_callback(on_answer)
        assert not any(f.done() for f in futures)
    _settle(futures)
    for _ in futures:
        assert all_answered.acquire(timeout=30)
    assert seen_when_answered == [5] * 5

    # When the commit itself fails, every vote of the batch fails and none is kept.
    def refuse(_conn: object) -> None:
        raise RuntimeError("disk full")

    with _writer_busy(db):
        event.listen(db.engine, "commit", refuse)
        futures = [
            submit_vote(db, hub, _vote(slug, activity_id, options[0], f"late-{i}", clock.now()))
            for i in range(3)
        ]
    outcomes = _settle(futures)
    event.remove(db.engine, "commit", refuse)
    assert all(isinstance(o, RuntimeError) for o in outcomes), outcomes
    assert _ballots(db, activity_id) == 5


def test_a_vote_whose_request_went_away_is_dropped_and_the_writer_carries_on(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    from im2.activities.formats.poll.live import submit_vote
    from im2.activities.formats.poll.schemas import VoteReceipt
    from tests.test_polls import live_campaign

    slug, activity_id, options = live_campaign(client, brand)
    hub = Hub()
    with _writer_busy(db):
        gone = submit_vote(db, hub, _vote(slug, activity_id, options[0], "phone-a", clock.now()))
        kept = submit_vote(db, hub, _vote(slug, activity_id, options[0], "phone-b", clock.now()))
        assert gone.cancel()  # what asyncio does to the future when the request is cancelled
    assert isinstance(kept.result(30), VoteReceipt)
    later = submit_vote(db, hub, _vote(slug, activity_id, options[0], "phone-c", clock.now()))
    assert isinstance(later.result(30), VoteReceipt)
    assert _ballots(db, activity_id) == 2


def test_votes_awaited_on_the_event_loop_settle_together_and_a_cancelled_one_is_not_written(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    """The API's path: votes awaited on the loop (`cast_vote`), answered by one hand-over per
    batch, each with its own outcome; a request cancelled while queued writes nothing."""
    from im2.activities.formats.poll.live import cast_vote
    from im2.activities.formats.poll.schemas import VoteReceipt
    from tests.test_polls import live_campaign

    slug, activity_id, options = live_campaign(client, brand)
    hub = Hub()

    async def run(release: threading.Event) -> list[Any]:
        def vote(device: str) -> asyncio.Task[VoteReceipt]:
            return asyncio.create_task(
                cast_vote(db, hub, _vote(slug, activity_id, options[0], device, clock.now()))
            )

        tasks = [vote(d) for d in ("phone-a", "phone-b", "phone-a", "phone-gone", "phone-c")]
        await asyncio.sleep(0.2)  # all five queued behind the busy writer
        tasks[3].cancel()  # its client went away
        release.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    with _writer_busy(db) as release:
        outcomes = asyncio.run(run(release))
    assert [type(o) for o in outcomes] == [
        VoteReceipt,
        VoteReceipt,
        Conflict,
        asyncio.CancelledError,
        VoteReceipt,
    ]
    assert _ballots(db, activity_id) == 3
    assert {o.results.ballots for o in outcomes if isinstance(o, VoteReceipt)} == {3}
    # The writer carries on for the next request.
    later = asyncio.run(
        cast_vote(db, hub, _vote(slug, activity_id, options[0], "phone-d", clock.now()))
    )
    assert later.results.ballots == 4
