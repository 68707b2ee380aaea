"""Real concurrency for the referral job: runs at the same moment (threads, separate
connections) and friends joining over HTTP while the job runs give every reward exactly once."""

from __future__ import annotations

import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx

from im2.activities.formats.referral.jobs import qualify_referrals_job
from im2.events.schemas import EventKind
from tests.activities.test_referral import World, points, world  # noqa: F401 - the fixture
from tests.conftest import LiveServer


def test_job_runs_at_the_same_moment_reward_each_invite_once(world: World) -> None:  # noqa: F811
    world.add_referral(
        qualify_on="interaction",
        inviter_reward=points(10),
        invitee_reward=points(2),
        milestones=[
            {"friends": 3, "reward": {"kind": "coupon", "pool_id": world.pool_id}},
            {"friends": 5, "reward": {"kind": "prize", "prize_id": world.prize_id}},
        ],
        burst_max=10,  # six friends each, all at the same (manual) moment
    )
    inviters = [world.join(ip=f"192.0.2.{i + 1}", ua=f"Host-{i}") for i in range(4)]
    friends = {
        host: [
            world.join(via=host, ip=f"198.51.{h * 10 + j}.9", ua=f"Friend-{h}-{j}")
            for j in range(6)
        ]
        for h, host in enumerate(inviters)
    }
    for group in friends.values():
        for pid in group:
            world.event(EventKind.VOTE_CAST, pid)
    world.clock.advance(timedelta(seconds=10))

    runs = 4
    barrier = threading.Barrier(runs)

    def run() -> int:
        barrier.wait()
        return qualify_referrals_job(world.db, world.clock)

    with ThreadPoolExecutor(runs) as pool:
        read = list(pool.map(lambda _: run(), range(runs)))
    assert sum(read) > 0

    grants = world.grants()
    keys = Counter(g.key for g in grants)
    assert max(keys.values()) == 1
    assert len(grants) == 24 + 24 + 4 * 2  # inviter and friend per invite, two milestones each
    assert all(g.status == "granted" for g in grants)
    for host, group in friends.items():
        assert world.points(host) == 60
        assert len(world.coupons(host)) == 1
        assert all(world.points(pid) == 2 for pid in group)
    assert len(world.events(EventKind.REFERRAL_QUALIFIED)) == 24
    assert len(world.events(EventKind.REFERRAL_MILESTONE)) == 8
    assert sorted(g.participant_id for g in grants if g.kind == "prize") == sorted(inviters)


def test_friends_join_over_http_while_the_job_runs(
    world: World,  # noqa: F811
    live_server: LiveServer,
) -> None:
    world.add_referral(
        qualify_on="joined",
        inviter_reward=points(10),
        invitee_reward=points(3),
        milestones=[{"friends": 5, "reward": {"kind": "coupon", "pool_id": world.pool_id}}],
        burst_max=1000,
    )
    host = world.join(ip="192.0.2.1")
    code = world.link(host)
    url = f"{live_server.url}/c/{world.campaign['slug']}/referral/{world.activity_id}"
    phones = []
    for i in range(12):
        phone = httpx.Client(timeout=60, headers={"User-Agent": f"Phone-{i}"})
        phone.get(f"{live_server.url}/s/{code}?ch=wechat")  # the invitation
        token = re.search(r'name="csrf_token" value="([^"]+)"', phone.get(url).text)
        assert token
        phones.append((phone, token.group(1)))

    done = threading.Event()

    def keep_running() -> int:
        runs = 0
        while not done.is_set():
            qualify_referrals_job(world.db, world.clock)
            runs += 1
        return runs

    def join(index: int) -> int:
        phone, token = phones[index]
        answer = phone.post(
            url + "/link", data={"csrf_token": token, "consent": "yes"}, follow_redirects=False
        )
        return answer.status_code

    with ThreadPoolExecutor(2) as jobs:
        running = [jobs.submit(keep_running) for _ in range(2)]
        with ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(join, range(12)))
        done.set()
        assert all(f.result() >= 1 for f in running)
    for phone, _token in phones:
        phone.close()
    assert statuses == [303] * 12
    world.run()  # whatever the running jobs left (PostgreSQL lets recent events settle)
    world.run()

    grants = world.grants()
    assert max(Counter(g.key for g in grants).values()) == 1
    inviter_grants = [g for g in grants if g.key.endswith(":inviter")]
    assert len(inviter_grants) == 12
    # All twelve phones come from 127.0.0.1: the same network as each other, not the host's.
    results = world.results()
    assert results["qualified"] + results["held"] == 12
    assert results["pending"] == 0
    assert len([g for g in grants if ":milestone:" in g.key]) == 1
    assert len(world.events(EventKind.REFERRAL_QUALIFIED)) == 12
