"""Two reward levels on one poll: each participant earns the points of the variant the sticky
hash gives their device, a retried or concurrent participation pays once, and the results
compare the two levels' conversion like two poster texts."""

from __future__ import annotations

import hashlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.db import Database
from im2.events.service import list_events
from im2.incentives import jobs
from im2.incentives import service as incentives
from im2.incentives.schemas import RewardKind, RewardSpec
from im2.participation import service as participation
from im2.participation.schemas import Visitor
from im2.workspaces import service as workspaces
from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer
from tests.experiments.test_experiments import campaign_id_of, page_title
from tests.test_auth import login
from tests.test_polls import POLL, live_campaign, vote_url

BASE_POINTS = 20  # what the campaign's rule gives for a vote
LEVELS = {"half": 50, "more": 150}  # the variants' reward levels, % of the normal points
KEY = "reward-level"


def points_at(level: int, base: int = BASE_POINTS) -> int:
    """What a marketer expects a level to pay: that percentage of the normal points."""
    return base * level // 100


def title_of(variant: str) -> str:
    return f"投票得{points_at(LEVELS[variant])}积分"


def experiment_body(activity_id: int) -> dict[str, Any]:
    return {
        "key": KEY,
        "name": "奖励档位 A/B",
        "activity_id": activity_id,
        "variants": [
            {
                "key": variant,
                "name": f"{level}%",
                "weight": 1,
                "payload": {"title": title_of(variant), "reward_level": level},
            }
            for variant, level in LEVELS.items()
        ],
        "goal_kinds": ["vote.cast"],
        "start": True,
    }


def hashed_variant(device_id: str) -> str:
    """The assignment as docs/metrics.md defines it: sha256(key + 0x1f + device id), first 8
    bytes as a number in [0, 1), cut by the (equal) weights."""
    digest = hashlib.sha256(f"{KEY}\x1f{device_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * len(LEVELS)
    return list(LEVELS)[int(point)]


def save_vote_rule(db: Database, clock: ManualClock, brand: Brand, campaign_id: int) -> None:
    with db.transaction() as session:
        actor = workspaces.system_actor(session, workspace_slug=brand.slug)
        incentives.do_save_rule(
            session,
            actor=actor,
            campaign_id=campaign_id,
            event_kind="vote.cast",
            points=BASE_POINTS,
            now=clock.now(),
        )


def run_rules(db: Database, clock: ManualClock) -> int:
    clock.advance(jobs.PG_SETTLE + timedelta(seconds=1))
    return jobs.apply_point_rules_job(db, clock)


def balance(db: Database, clock: ManualClock, brand: Brand, participant_id: int) -> int:
    with db.session() as session:
        return incentives.get_balance(
            session, workspace_id=brand.workspace_id, participant_id=participant_id, now=clock.now()
        ).points


def device_of(db: Database, brand: Brand, participant_id: int) -> str:
    with db.session() as session:
        found = participation.get_signals(
            session, workspace_id=brand.workspace_id, participant_ids=[participant_id]
        )
    return found[participant_id].device_id


def test_each_participant_earns_the_points_of_their_variant(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    # Given a poll whose votes earn 20 points, and an experiment paying 50 % or 150 % of that
    slug, activity_id, options = live_campaign(client, brand)
    campaign_id = campaign_id_of(client, brand, activity_id)
    save_vote_rule(db, clock, brand, campaign_id)
    made = client.post(
        f"/api/v1/campaigns/{campaign_id}/experiments",
        json=experiment_body(activity_id),
        headers=brand.auth(Role.OWNER),
    )
    assert made.status_code == 201, made.text
    experiment_id = made.json()["id"]

    # When 20 phones open the poll (each keeps its variant) and 14 of them vote
    url = f"/c/{slug}/poll/{activity_id}"
    titles = {title_of(v): v for v in LEVELS}
    seen = dict.fromkeys(LEVELS, 0)
    voters: dict[int, str] = {}
    for i in range(20):
        phone = TestClient(client.app)
        variant = titles[page_title(phone, url)]
        assert titles[page_title(phone, url)] == variant  # sticky
        seen[variant] += 1
        if i % 10 >= 7:
            continue
        vote = phone.post(
            vote_url(slug, activity_id), json={"options": [options[0]], "consent": True}
        )
        assert vote.status_code == 201, vote.text
        with db.session() as session:
            pid = int(list_events(session, kinds=["vote.cast"])[-1].actor_id or 0)
        voters[pid] = variant
    assert all(seen.values()), seen
    assert len(voters) == 14

    # Then the rules pay each voter their variant's share of the 20 points
    assert run_rules(db, clock) == 14
    for pid, variant in voters.items():
        assert hashed_variant(device_of(db, brand, pid)) == variant
        assert balance(db, clock, brand, pid) == points_at(LEVELS[variant])
    assert run_rules(db, clock) == 0  # a second run pays nothing more
    with db.session() as session:
        awarded = list_events(session, kinds=["points.awarded"])
    assert sorted(
        (e.properties["variant"], e.properties["reward_level"], e.properties["points"])
        for e in awarded
    ) == sorted((v, LEVELS[v], points_at(LEVELS[v])) for v in voters.values())

    # And the results compare the two levels' conversion
    results = client.get(
        f"/api/v1/experiments/{experiment_id}/results", headers=brand.auth(Role.ANALYST)
    )
    assert results.status_code == 200, results.text
    by_key = {v["key"]: v for v in results.json()["variants"]}
    for variant, level in LEVELS.items():
        voted = sum(1 for v in voters.values() if v == variant)
        assert by_key[variant]["reward_level"] == level
        assert by_key[variant]["exposures"] == seen[variant]
        assert by_key[variant]["conversions"] == voted
        assert by_key[variant]["conversion_rate"] == pytest.approx(voted / seen[variant])

    assert login(client, brand.emails[Role.EDITOR]) == 303
    page = client.get(f"/console/w/acme/campaigns/{campaign_id}/experiments/{experiment_id}")
    assert page.status_code == 200
    for variant, level in LEVELS.items():
        row = re.search(rf'<tr data-variant="{variant}">(.*?)</tr>', page.text, re.S)
        assert row is not None
        assert f"奖励档位 {level}%" in row.group(1)
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
        voted = sum(1 for v in voters.values() if v == variant)
        assert cells[1].strip() == str(seen[variant])
        assert cells[2].strip() == str(voted)


def test_the_editor_explains_the_reward_level(client: TestClient, brand: Brand) -> None:
    _slug, activity_id, _options = live_campaign(client, brand)
    campaign_id = campaign_id_of(client, brand, activity_id)
    assert login(client, brand.emails[Role.EDITOR]) == 303
    page = client.get(f"/console/w/acme/campaigns/{campaign_id}/experiments")
    assert page.status_code == 200
    assert "<th>奖励档位 (%)</th>" in page.text
    assert "200 = 双倍" in page.text
    too_much = experiment_body(activity_id)
    too_much["variants"][1]["payload"]["reward_level"] = 1001
    refused = client.post(
        f"/api/v1/campaigns/{campaign_id}/experiments",
        json=too_much,
        headers=brand.auth(Role.OWNER),
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "variants.1.payload.reward_level"


def test_retried_and_concurrent_votes_and_rule_runs_pay_once(
    live_server: LiveServer, brand: Brand, db: Database, clock: ManualClock
) -> None:
    # Given the same experiment on a poll of a live server
    base, owner = live_server.url, brand.auth(Role.OWNER)
    campaign = live_server.live_campaign(brand)
    save_vote_rule(db, clock, brand, campaign["id"])
    poll = httpx.post(
        f"{base}/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=owner
    ).json()
    made = httpx.post(
        f"{base}/api/v1/campaigns/{campaign['id']}/experiments",
        json=experiment_body(poll["id"]),
        headers=owner,
    )
    assert made.status_code == 201, made.text
    option = httpx.get(f"{base}/api/v1/polls/{poll['id']}/results", headers=owner).json()[
        "options"
    ][0]["id"]

    # When one phone fires the same vote 12 times at once (a retry storm, some with the same
    # idempotency key) and three rule runners start together
    phone = httpx.Client(base_url=base)
    phone.get(f"/c/{campaign['slug']}/poll/{poll['id']}")
    start = threading.Barrier(12)

    def vote(i: int) -> int:
        start.wait()
        return phone.post(
            vote_url(campaign["slug"], poll["id"]),
            json={"options": [option], "consent": True},
            headers={"Idempotency-Key": "vote-1"} if i % 2 else {},
            timeout=30,
        ).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(vote, range(12)))
    phone.close()
    assert statuses.count(201) >= 1
    assert all(s in (201, 409) for s in statuses), statuses

    clock.advance(jobs.PG_SETTLE + timedelta(seconds=1))
    runners = threading.Barrier(3)

    def rules(_: int) -> int:
        runners.wait()
        return jobs.apply_point_rules_job(db, clock)

    with ThreadPoolExecutor(max_workers=3) as pool:
        paid = sum(pool.map(rules, range(3)))

    # Then one vote was counted and its points paid once, at the phone's level
    with db.session() as session:
        votes = list_events(session, kinds=["vote.cast"])
        awarded = list_events(session, kinds=["points.awarded"])
    assert len(votes) == 1
    pid = int(votes[0].actor_id or 0)
    variant = hashed_variant(device_of(db, brand, pid))
    assert paid == 1
    assert [e.properties["points"] for e in awarded] == [points_at(LEVELS[variant])]
    assert balance(db, clock, brand, pid) == points_at(LEVELS[variant])


def test_rewards_granted_for_the_activity_follow_the_variant_once(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    # Given the experiment on a poll and participants of both variants
    _slug, activity_id, _options = live_campaign(client, brand)
    campaign_id = campaign_id_of(client, brand, activity_id)
    owner = brand.auth(Role.OWNER)
    made = client.post(
        f"/api/v1/campaigns/{campaign_id}/experiments",
        json=experiment_body(activity_id),
        headers=owner,
    )
    assert made.status_code == 201, made.text
    people: dict[str, int] = {}
    with db.transaction() as session:
        for n in range(40):
            device = f"device-{n:02d}"
            if hashed_variant(device) in people:
                continue
            joined = participation.do_join(
                session,
                workspace_id=brand.workspace_id,
                campaign_id=campaign_id,
                visitor=Visitor(device_id=device, ip="203.0.113.7", user_agent="t"),
                consented=True,
                now=clock.now(),
            )
            people[hashed_variant(device)] = joined.id
    assert set(people) == set(LEVELS)
    reward = RewardSpec(kind=RewardKind.POINTS, points=BASE_POINTS)

    def grant(pid: int, key: str) -> str:
        with db.transaction() as session:
            return incentives.grant_reward(
                session,
                workspace_id=brand.workspace_id,
                campaign_id=campaign_id,
                participant_id=pid,
                reward=reward,
                key=key,
                reason="邀请好友",
                now=clock.now(),
                activity_id=activity_id,
            ).status

    # When each is granted the activity's reward 8 times at once under one key
    for variant, pid in people.items():
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(grant, [pid] * 8, [f"invite:{variant}"] * 8))
        # Then it is granted once, scaled by their variant's level
        assert sorted(statuses) == ["duplicate"] * 7 + ["granted"]
        assert balance(db, clock, brand, pid) == points_at(LEVELS[variant])

    # And once the experiment is concluded the same reward is paid in full again
    concluded = client.post(
        f"/api/v1/experiments/{made.json()['id']}/conclude",
        json={"winner": None},
        headers=owner,
    )
    assert concluded.status_code == 200, concluded.text
    clock.advance(timedelta(minutes=1))
    pid = people["half"]
    assert grant(pid, "invite:after") == "granted"
    assert balance(db, clock, brand, pid) == points_at(LEVELS["half"]) + BASE_POINTS
