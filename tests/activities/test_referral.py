"""The referral (invite-a-friend) activity end to end: invites come from the share tree, the job
qualifies each invitee once on the configured action, rewards and milestones are given once,
two levels at most, suspicious invites are held with their evidence."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeSerializer
from sqlalchemy import update

from im2.activities.formats.referral import abuse
from im2.activities.formats.referral.jobs import qualify_referrals_job
from im2.activities.formats.referral.models import ReferralCursor
from im2.clock import ManualClock
from im2.db import Database
from im2.events.schemas import ActorType, EventKind
from im2.events.service import list_events, record_event
from im2.incentives import service as incentives
from im2.participation import service as participation
from im2.participation.schemas import Visitor
from im2.sharing import service as sharing
from im2.workspaces.schemas import Actor, Role
from im2.workspaces.service import system_actor
from tests.conftest import PASSWORD, Brand, campaign_payload, go_live

PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) MicroMessenger/8.0"
SECRET = "test-secret"


def live_campaign(client: TestClient, brand: Brand) -> dict[str, Any]:
    return go_live(client, brand, objective="fission")


@dataclass
class World:
    """A live campaign with a referral activity, and helpers to act in it."""

    client: TestClient
    brand: Brand
    db: Database
    clock: ManualClock
    campaign: dict[str, Any]
    activity_id: int = 0
    pool_id: int = 0
    prize_id: int = 0
    devices: int = 0
    codes: dict[int, str] = field(default_factory=dict)
    poll: tuple[int, int] | None = None

    @property
    def cid(self) -> int:
        return int(self.campaign["id"])

    def owner(self) -> Actor:
        with self.db.session() as session:
            return system_actor(session, workspace_slug=self.brand.slug)

    def add_referral(self, **rules: Any) -> dict[str, Any]:
        body = {"title": "邀请好友得好礼", **rules}
        made = self.client.post(
            f"/api/v1/campaigns/{self.cid}/referrals",
            json=body,
            headers=self.brand.auth(Role.OWNER),
        )
        assert made.status_code == 201, made.text
        self.activity_id = int(made.json()["id"])
        return dict(made.json())

    def join(
        self,
        *,
        via: int | None = None,
        ip: str | None = None,
        ua: str = PHONE_UA,
        nickname: str | None = None,
    ) -> int:
        """A new participant (a new device), brought by `via`'s share link when given."""
        self.devices += 1
        n = self.devices
        visitor = Visitor(
            device_id=f"dev{n:029d}",
            ip=ip or f"10.{n // 250}.{n % 250}.7",
            user_agent=ua,
            channel="wechat" if via else None,
            referrer=self.link(via) if via else None,
        )
        with self.db.transaction() as session:
            pid = participation.do_join(
                session,
                workspace_id=self.brand.workspace_id,
                campaign_id=self.cid,
                visitor=visitor,
                consented=True,
                now=self.clock.now(),
            ).id
            if nickname:
                participation.do_set_nickname(session, participant_id=pid, nickname=nickname)
        return pid

    def device(self, pid: int) -> str:
        with self.db.session() as session:
            return participation.get_signals(
                session, workspace_id=self.brand.workspace_id, participant_ids=[pid]
            )[pid].device_id

    def link(self, pid: int) -> str:
        if pid not in self.codes:
            with self.db.transaction() as session:
                self.codes[pid] = sharing.do_get_link(
                    session,
                    workspace_id=self.brand.workspace_id,
                    campaign_id=self.cid,
                    participant_id=pid,
                    now=self.clock.now(),
                ).code
        return self.codes[pid]

    def verify(self, pid: int, phone: str) -> None:
        with self.db.transaction() as session:
            _dest, code = participation.do_request_code(
                session,
                participant_id=pid,
                channel="phone",
                destination=phone,
                secret=SECRET,
                now=self.clock.now(),
            )
            check = participation.do_confirm_code(
                session,
                participant_id=pid,
                workspace_id=self.brand.workspace_id,
                campaign_id=self.cid,
                channel="phone",
                code=code,
                secret=SECRET,
                now=self.clock.now(),
            )
        assert check.ok

    def event(
        self, kind: EventKind, pid: int, *, campaign_id: int | None = None, **props: Any
    ) -> None:
        """An action of a participant as other domains record it in the event log."""
        with self.db.transaction() as session:
            record_event(
                session,
                kind=kind,
                occurred_at=self.clock.now(),
                workspace_id=self.brand.workspace_id,
                campaign_id=campaign_id or self.cid,
                actor_type=ActorType.PARTICIPANT,
                actor_id=pid,
                properties=props,
            )

    def purchase(self, pid: int, order: str) -> None:
        """The shop's conversion postback (POST /api/v1/conversions) naming the buyer."""
        posted = self.client.post(
            "/api/v1/conversions",
            json={
                "order_id": order,
                "amount": "39.00",
                "currency": "CNY",
                "occurred_at": self.clock.now().isoformat(),
                "participant_id": pid,
                "campaign_id": self.cid,
            },
            headers=self.brand.auth(Role.OWNER),
        )
        assert posted.status_code in (200, 201), posted.text

    def vote(self, pid: int) -> None:
        """A real vote in a poll of the campaign, from the participant's device."""
        auth = self.brand.auth(Role.OWNER)
        if not self.poll:
            made = self.client.post(
                f"/api/v1/campaigns/{self.cid}/polls",
                json={
                    "title": "你最想喝哪款？",
                    "options": [{"label": "樱花拿铁"}, {"label": "抹茶"}],
                },
                headers=auth,
            )
            assert made.status_code == 201, made.text
            poll_id = made.json()["id"]
            options = self.client.get(f"/api/v1/polls/{poll_id}/results", headers=auth).json()
            self.poll = (poll_id, options["options"][0]["id"])
        # The participant's phone: its device cookie, signed as the app signs it.
        secret = self.client.app.state.settings.secret_key.get_secret_value()
        cookie = URLSafeSerializer(secret, salt="im2-device").dumps(self.device(pid))
        phone = TestClient(self.client.app, cookies={"im2_device": cookie})
        voted = phone.post(
            f"/api/v1/public/campaigns/{self.campaign['slug']}/polls/{self.poll[0]}/votes",
            json={"options": [self.poll[1]]},
        )
        assert voted.status_code == 201, voted.text

    def run(self) -> int:
        self.clock.advance(timedelta(seconds=10))  # past the settling time on PostgreSQL
        return qualify_referrals_job(self.db, self.clock)

    def results(self) -> dict[str, Any]:
        got = self.client.get(
            f"/api/v1/referrals/{self.activity_id}/results", headers=self.brand.auth(Role.ANALYST)
        )
        assert got.status_code == 200, got.text
        return dict(got.json())

    def status_of(self, invitee: int) -> str:
        rows = [r for r in self.results()["rows"] if r["invitee_id"] == invitee]
        assert len(rows) == 1
        return str(rows[0]["status"])

    def points(self, pid: int) -> int:
        with self.db.session() as session:
            return incentives.get_balance(
                session,
                workspace_id=self.brand.workspace_id,
                participant_id=pid,
                now=self.clock.now(),
            ).points

    def grants(self, status: str | None = None) -> list[Any]:
        with self.db.session() as session:
            return incentives.list_grants(
                session, actor=self.owner(), campaign_id=self.cid, status=status, limit=10_000
            )

    def coupons(self, pid: int) -> list[Any]:
        with self.db.session() as session:
            return incentives.participant_coupons(
                session,
                workspace_id=self.brand.workspace_id,
                campaign_id=self.cid,
                participant_id=pid,
                now=self.clock.now(),
            )

    def events(self, kind: EventKind) -> list[Any]:
        with self.db.session() as session:
            return list_events(session, kinds=[kind.value], campaign_id=self.cid)


@pytest.fixture
def world(client: TestClient, brand: Brand, db: Database, clock: ManualClock) -> Iterator[World]:
    w = World(client=client, brand=brand, db=db, clock=clock, campaign=live_campaign(client, brand))
    actor = w.owner()
    with db.transaction() as session:
        pool = incentives.do_create_pool(
            session, actor=actor, campaign_id=w.cid, name="5 元饮品券", now=clock.now()
        )
        incentives.do_generate_codes(
            session, actor=actor, pool_id=pool.id, count=50, now=clock.now()
        )
        prize = incentives.do_create_prize(
            session, actor=actor, campaign_id=w.cid, name="樱花保温杯", units=5, now=clock.now()
        )
    w.pool_id, w.prize_id = pool.id, prize.id
    return w


def points(n: int) -> dict[str, Any]:
    return {"kind": "points", "points": n}


# --- configuration -----------------------------------------------------------------------------


def test_three_levels_are_refused_as_pyramid_selling(world: World) -> None:
    auth = world.brand.auth(Role.OWNER)
    url = f"/api/v1/campaigns/{world.cid}/referrals"
    body = {"title": "三级分销", "levels": 3, "inviter_reward": points(10)}
    refused = world.client.post(url, json=body, headers=auth)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["field"] == "levels"
    assert "pyramid selling" in error["message"]
    assert "传销" in error["message"]
    zh = world.client.post(url, json=body, headers={**auth, "Accept-Language": "zh-CN"})
    assert "传销" in zh.json()["error"]["message"]

    # A level-2 reward needs two levels; milestones must be distinct and ascending.
    lonely = world.client.post(
        url, json={"title": "x", "levels": 1, "level2_reward": points(5)}, headers=auth
    )
    assert lonely.status_code == 422
    assert "2 levels" in lonely.json()["error"]["message"]
    unordered = world.client.post(
        url,
        json={
            "title": "x",
            "milestones": [
                {"friends": 10, "reward": points(100)},
                {"friends": 3, "reward": points(30)},
            ],
        },
        headers=auth,
    )
    assert unordered.status_code == 422
    nothing = world.client.post(url, json={"title": "x"}, headers=auth)
    assert nothing.status_code == 422
    assert "at least one reward" in nothing.json()["error"]["message"]
    foreign_pool = world.client.post(
        url,
        json={"title": "x", "inviter_reward": {"kind": "coupon", "pool_id": 999_999}},
        headers=auth,
    )
    assert foreign_pool.status_code == 422
    assert foreign_pool.json()["error"]["field"] == "inviter_reward"
    with world.db.session() as session:
        assert not list_events(session, kinds=[EventKind.ACTIVITY_CREATED.value])

    # A valid one, then an edit to three levels: refused the same way, nothing changed.
    made = world.add_referral(inviter_reward=points(10))
    patch = world.client.patch(f"/api/v1/referrals/{made['id']}", json={"levels": 3}, headers=auth)
    assert patch.status_code == 422
    assert "传销" in patch.json()["error"]["message"]
    two = world.client.patch(
        f"/api/v1/referrals/{made['id']}",
        json={"levels": 2, "level2_reward": points(3)},
        headers=auth,
    )
    assert two.status_code == 200, two.text
    assert two.json()["settings"]["levels"] == 2
    drop = world.client.patch(f"/api/v1/referrals/{made['id']}", json={"levels": 1}, headers=auth)
    assert drop.status_code == 422  # the level-2 reward would be left without its level
    assert (
        drop.json()["error"]["field"] == "level2_reward"
        or "2 levels" in drop.json()["error"]["message"]
    )


def login(client: TestClient, email: str) -> None:
    page = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    done = client.post(
        "/console/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def test_console_editor_says_why_three_levels_are_refused(world: World) -> None:
    client = world.client
    login(client, world.brand.emails[Role.EDITOR])
    form_url = f"/console/w/acme/campaigns/{world.cid}/referral/new"
    page = client.get(form_url)
    assert page.status_code == 200
    assert "5 元饮品券" in page.text
    assert "樱花保温杯" in page.text
    data = {
        "csrf_token": csrf(page.text),
        "title": "邀请好友喝咖啡",
        "qualify_on": "interaction",
        "levels": "3",
        "inviter_kind": "points",
        "inviter_points": "50",
    }
    refused = client.post(f"/console/w/acme/campaigns/{world.cid}/referral", data=data)
    assert refused.status_code == 422
    assert "传销" in refused.text
    assert 'value="邀请好友喝咖啡"' in refused.text  # what was typed stays

    data.update(
        {
            "levels": "2",
            "level2_kind": "points",
            "level2_points": "5",
            "invitee_kind": "coupon",
            "invitee_pool": str(world.pool_id),
            "m0_friends": "3",
            "m0_kind": "coupon",
            "m0_pool": str(world.pool_id),
            "m1_friends": "10",
            "m1_kind": "prize",
            "m1_prize": str(world.prize_id),
        }
    )
    made = client.post(
        f"/console/w/acme/campaigns/{world.cid}/referral", data=data, follow_redirects=False
    )
    assert made.status_code == 303, made.text
    detail = client.get(made.headers["location"])
    assert detail.status_code == 200
    assert "优惠券：5 元饮品券" in detail.text
    assert "奖品：樱花保温杯" in detail.text
    activity_id = int(made.headers["location"].rsplit("/", 1)[1])
    edit = client.get(f"/console/w/acme/referral/{activity_id}/edit")
    assert 'value="10"' in edit.text  # the milestone is in the form
    data["csrf_token"] = csrf(edit.text)
    data["levels"] = "4"
    again = client.post(f"/console/w/acme/referral/{activity_id}/edit", data=data)
    assert again.status_code == 422
    assert "传销" in again.text


# --- qualification and rewards -----------------------------------------------------------------


def test_join_qualifies_and_rewards_once_even_when_the_job_runs_again(world: World) -> None:
    world.add_referral(
        qualify_on="joined",
        inviter_reward=points(50),
        invitee_reward={"kind": "coupon", "pool_id": world.pool_id},
        milestones=[
            {"friends": 2, "reward": {"kind": "coupon", "pool_id": world.pool_id}},
            {"friends": 3, "reward": {"kind": "prize", "prize_id": world.prize_id}},
        ],
    )
    anna = world.join(nickname="安娜")
    friends = [world.join(via=anna) for _ in range(2)]
    world.run()
    assert [world.status_of(f) for f in friends] == ["qualified", "qualified"]
    assert world.points(anna) == 100
    assert len(world.coupons(anna)) == 1  # the 2-friend milestone
    assert all(len(world.coupons(f)) == 1 for f in friends)

    # Running again, and even losing the cursor, gives nothing twice.
    assert world.run() == 0
    with world.db.transaction() as session:
        session.execute(update(ReferralCursor).values(last_event_id=0))
    assert world.run() > 0
    assert world.points(anna) == 100
    assert len(world.coupons(anna)) == 1
    assert len(world.events(EventKind.REFERRAL_QUALIFIED)) == 2
    assert len(world.events(EventKind.REFERRAL_MILESTONE)) == 1

    third = world.join(via=anna)
    world.run()
    assert world.status_of(third) == "qualified"
    milestones = world.events(EventKind.REFERRAL_MILESTONE)
    assert sorted(e.properties["friends"] for e in milestones) == [2, 3]
    prizes = [g for g in world.grants() if g.kind == "prize"]
    assert [(g.participant_id, g.status) for g in prizes] == [(anna, "granted")]
    # The ledger's words are the campaign's language (Chinese), not the code's.
    assert prizes[0].reason == "邀请好友得好礼：已有 3 位好友达标"
    assert {g.reason for g in world.grants() if g.participant_id == third} == {
        f"邀请好友得好礼：受 #{anna} 邀请加入"
    }
    results = world.results()
    assert (results["qualified"], results["pending"], results["held"]) == (3, 0, 0)
    assert results["milestones_reached"] == 2


@pytest.mark.parametrize("rule", ["verified", "interaction", "purchase"])
def test_an_invite_waits_for_the_qualifying_action(world: World, rule: str) -> None:
    world.add_referral(qualify_on=rule, inviter_reward=points(20), invitee_reward=points(5))
    ben = world.join()
    cleo = world.join(via=ben)
    world.run()
    assert world.status_of(cleo) == "pending"
    assert world.points(ben) == 0

    # Actions that are not the rule's leave the invite pending.
    other = live_campaign_id(world)
    if rule != "interaction":
        world.event(EventKind.VOTE_CAST, cleo)
    world.event(EventKind.QUIZ_ANSWERED, cleo, campaign_id=other)  # another campaign
    if rule != "verified":
        world.verify(cleo, "13800138000")
    world.run()
    assert world.status_of(cleo) == "pending"

    if rule == "verified":
        world.verify(cleo, "13900139000")
    elif rule == "interaction":
        world.vote(cleo)
    else:
        world.purchase(cleo, "order-1")
    world.run()
    assert world.status_of(cleo) == "qualified"
    row = next(r for r in world.results()["rows"] if r["invitee_id"] == cleo)
    expected = {
        "verified": "participant.verified",
        "interaction": "vote.cast",
        "purchase": "conversion.recorded",
    }
    assert row["qualified_by"] == expected[rule]
    assert (world.points(ben), world.points(cleo)) == (20, 5)

    # A second qualifying action later changes nothing.
    world.event(EventKind.VOTE_CAST, cleo)
    world.purchase(cleo, "order-2")
    world.run()
    assert (world.points(ben), world.points(cleo)) == (20, 5)


def live_campaign_id(world: World) -> int:
    other = world.client.post(
        "/api/v1/campaigns",
        json=campaign_payload(slug="other-campaign", name="另一个活动"),
        headers=world.brand.auth(Role.OWNER),
    )
    assert other.status_code == 201, other.text
    return int(other.json()["id"])


def test_two_levels_at_most(world: World) -> None:
    world.add_referral(levels=2, inviter_reward=points(30), level2_reward=points(7))
    ann = world.join()
    bob = world.join(via=ann)
    cat = world.join(via=bob)
    dan = world.join(via=cat)
    world.run()
    assert [world.status_of(p) for p in (bob, cat, dan)] == ["qualified"] * 3
    # ann: 30 for bob, 7 for cat (via bob); nothing for dan (a third level).
    assert world.points(ann) == 37
    assert world.points(bob) == 37  # 30 for cat, 7 for dan
    assert world.points(cat) == 30
    assert world.points(dan) == 0
    keys = sorted(g.key for g in world.grants())
    aid = world.activity_id
    assert keys == sorted(
        [
            f"referral:{aid}:{bob}:inviter",
            f"referral:{aid}:{cat}:inviter",
            f"referral:{aid}:{cat}:level2",
            f"referral:{aid}:{dan}:inviter",
            f"referral:{aid}:{dan}:level2",
        ]
    )


# --- abuse ------------------------------------------------------------------------------------


def test_self_referral_is_held_with_its_evidence(world: World) -> None:
    world.add_referral(qualify_on="verified", inviter_reward=points(50), invitee_reward=points(5))
    eve = world.join(ip="203.0.113.9", nickname="小艾")
    world.verify(eve, "13700137000")
    # The same phone and browser at the same address, a new cookie: eve again.
    twin = world.join(via=eve, ip="203.0.113.9")
    # Someone on the same /24 with another browser: the same network.
    neighbour = world.join(
        via=eve, ip="203.0.113.77", ua="Mozilla/5.0 (Linux; Android 14) Chrome/126"
    )
    # Someone elsewhere who verifies with eve's phone number.
    alias = world.join(via=eve, ip="198.51.100.4")
    honest = world.join(via=eve, ip="192.0.2.50")
    world.verify(twin, "13600136000")
    world.verify(neighbour, "13500135000")
    world.verify(alias, "137 0013 7000")
    world.verify(honest, "13400134000")
    world.run()

    rows = {r["invitee_id"]: r for r in world.results()["rows"]}
    assert rows[twin]["status"] == "held"
    assert "same_device" in rows[twin]["reasons"]
    # The evidence names the network and a keyed hash of the browser, never the address.
    assert rows[twin]["evidence"]["same_device"].startswith("203.0.113.0/24 · UA #")
    assert "203.0.113.9" not in rows[twin]["evidence"]["same_device"]
    assert rows[neighbour]["status"] == "held"
    assert rows[neighbour]["reasons"] == ["same_network"]
    assert rows[neighbour]["evidence"]["same_network"] == "203.0.113.0/24"
    assert rows[alias]["status"] == "held"
    assert rows[alias]["reasons"] == ["same_identity"]
    assert rows[honest]["status"] == "qualified"
    assert rows[honest]["reasons"] == []

    # Only the honest invite paid out; the others wait in the review queue with the evidence.
    assert world.points(eve) == 50
    held = world.grants("held")
    assert len(held) == 6  # inviter and invitee rewards of three invites
    by_invitee = {g.key.split(":")[2]: g for g in held if g.key.endswith(":inviter")}
    assert by_invitee[str(twin)].evidence["reasons"] == ["same_device"]
    assert by_invitee[str(alias)].evidence["details"]["same_identity"].startswith("…")
    assert world.results()["held"] == 3

    # The brand approves one: paid then, and recorded.
    with world.db.transaction() as session:
        incentives.do_decide_grant(
            session,
            actor=world.owner(),
            grant_id=by_invitee[str(neighbour)].id,
            approve=True,
            now=world.clock.now(),
        )
    assert world.points(eve) == 100
    # … and voids another; the job follows both decisions into the invites.
    with world.db.transaction() as session:
        incentives.do_decide_grant(
            session,
            actor=world.owner(),
            grant_id=by_invitee[str(twin)].id,
            approve=False,
            now=world.clock.now(),
        )
    world.run()
    after = world.results()
    assert (after["qualified"], after["held"], after["voided"]) == (2, 1, 1)
    assert world.status_of(neighbour) == "qualified"
    assert world.status_of(twin) == "voided"
    assert world.points(eve) == 100
    assert world.points(twin) == 0  # its own reward is still held: decided separately


def test_a_referral_ring_is_held(world: World) -> None:
    world.add_referral(qualify_on="interaction", inviter_reward=points(10))
    amy = world.join(ip="192.0.2.10")
    bo = world.join(via=amy, ip="198.51.100.20", ua="Mozilla/5.0 (Linux; Android 14)")
    # amy follows bo's link back: they invite each other (A → B → A).
    with world.db.transaction() as session:
        sharing.do_click(
            session,
            code=world.link(bo),
            visitor=Visitor(device_id=world.device(amy), ip="192.0.2.10", user_agent=PHONE_UA),
            now=world.clock.now(),
        )
    # A longer loop: bo invites cy, cy invites dee, and bo's device follows dee's link.
    cy = world.join(via=bo, ip="100.64.1.1", ua="UA-cy")
    dee = world.join(via=cy, ip="100.65.1.1", ua="UA-dee")
    with world.db.transaction() as session:
        sharing.do_click(
            session,
            code=world.link(dee),
            visitor=Visitor(device_id=world.device(bo), ip="198.51.100.20", user_agent="x"),
            now=world.clock.now(),
        )
    fay = world.join(via=amy, ip="172.16.5.5", ua="UA-fay")  # an ordinary friend
    for pid in (bo, cy, dee, fay):
        world.event(EventKind.VOTE_CAST, pid)
    world.run()
    rows = {r["invitee_id"]: r for r in world.results()["rows"]}
    assert rows[bo]["status"] == "held"
    assert rows[bo]["reasons"] == ["ring"]
    assert rows[bo]["evidence"]["ring"] == f"#{bo} → #{amy} → #{bo}"
    assert rows[dee]["status"] == "held"
    assert rows[dee]["reasons"] == ["ring"]
    assert rows[dee]["evidence"]["ring"] == f"#{dee} → #{cy} → #{bo} → #{dee}"
    assert rows[fay]["status"] == "qualified"
    assert rows[cy]["status"] == "held"  # on the same loop: cy → bo → dee → cy
    assert world.points(amy) == 10  # fay only


def test_a_burst_through_one_link_is_held(world: World) -> None:
    world.add_referral(inviter_reward=points(10), burst_max=3, burst_minutes=10)
    host = world.join(ip="192.0.2.1")
    first = [world.join(via=host, ip=f"198.51.{i}.9", ua=f"UA-{i}") for i in range(3)]
    world.clock.advance(timedelta(minutes=1))
    rush = [world.join(via=host, ip=f"203.0.{i}.9", ua=f"UB-{i}") for i in range(2)]
    world.clock.advance(timedelta(minutes=30))
    later = world.join(via=host, ip="100.64.9.9", ua="UC")
    world.run()
    assert [world.status_of(p) for p in first] == ["qualified"] * 3
    assert [world.status_of(p) for p in rush] == ["held"] * 2
    assert world.status_of(later) == "qualified"
    row = next(r for r in world.results()["rows"] if r["invitee_id"] == rush[1])
    assert row["reasons"] == ["burst"]
    assert row["evidence"]["burst"].startswith("5 次注册")
    assert world.points(host) == 40


def test_network_ranges() -> None:
    assert abuse.network("203.0.113.9") == "203.0.113.0/24"
    assert abuse.network("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert abuse.network("2001:db8:1:2::ffff") == abuse.network("2001:db8:1:2:aaaa::1")
    assert abuse.network("2001:db8:1:3::1") != abuse.network("2001:db8:1:2::1")
    assert abuse.network("::ffff:203.0.113.9") == "203.0.113.0/24"
    assert abuse.network("testclient") is None
    assert abuse.network(None) is None


# --- leaderboard, pages, export ----------------------------------------------------------------


def test_leaderboard_order(world: World) -> None:
    world.add_referral(inviter_reward=points(1))
    early = world.join(nickname="王小明")
    late = world.join(nickname="Lily")
    small = world.join(nickname="赵六", ip="192.0.2.1")
    for _ in range(3):
        world.join(via=early)
    world.run()
    for _ in range(3):
        world.join(via=late)
    world.join(via=small)
    world.run()
    for i in range(4):  # from small's own network: held for review, not on the board yet
        world.join(via=small, ip=f"192.0.2.{200 + i}", ua=f"UA-{i}")
    world.run()
    board = world.client.get(
        f"/api/v1/referrals/{world.activity_id}/leaderboard", headers=world.brand.auth(Role.VIEWER)
    ).json()
    assert [(r["rank"], r["participant_id"], r["qualified"], r["held"]) for r in board] == [
        (1, early, 3, 0),
        (2, late, 3, 0),
        (3, small, 1, 4),
    ]
    page = world.client.get(f"/c/{world.campaign['slug']}/referral/{world.activity_id}")
    names = re.findall(r"<li>([^<]+) · \d+ 位好友", page.text) or re.findall(
        r"<li>([^<]+) · \d+ friends", page.text
    )
    assert names == ["王*明", "L**y", "赵*"]


def test_the_participant_page_without_javascript(world: World) -> None:
    world.add_referral(
        qualify_on="verified",
        inviter_reward=points(50),
        invitee_reward={"kind": "coupon", "pool_id": world.pool_id},
        milestones=[{"friends": 1, "reward": {"kind": "prize", "prize_id": world.prize_id}}],
    )
    slug = world.campaign["slug"]
    url = f"/c/{slug}/referral/{world.activity_id}"
    # Two phones (TestClient requests all come from one address, so they differ by browser).
    me = TestClient(world.client.app, headers={"User-Agent": PHONE_UA})
    page = me.get(url)
    assert page.status_code == 200
    assert 'id="my-link"' not in page.text  # no link before taking part
    refused = me.post(url + "/link", data={"csrf_token": csrf(page.text)})
    assert refused.status_code == 422  # consent first
    assert 'id="my-link"' not in refused.text
    made = me.post(
        url + "/link",
        data={"csrf_token": csrf(page.text), "consent": "yes"},
        follow_redirects=False,
    )
    assert made.status_code == 303
    mine = me.get(made.headers["location"]).text
    assert "你的专属邀请链接已生成" in mine
    code = re.search(r"/s/([a-z0-9]{10})/qr\.svg", mine)
    assert code, mine
    assert f"/s/{code.group(1)}?ch=wechat" in mine
    assert me.get(f"/s/{code.group(1)}/qr.svg").headers["content-type"].startswith("image/svg")
    assert "每邀请 1 位好友达标，你获得：50 积分" in mine
    assert "还差 1 位" in mine  # the one-friend milestone

    friend = TestClient(world.client.app, headers={"User-Agent": "Mozilla/5.0 (Android 14)"})
    friend.get(f"/s/{code.group(1)}?ch=wechat", follow_redirects=False)
    landing = friend.get(url).text
    inviter = re.search(r"你的好友 (.+?) 邀请你", landing)
    assert inviter
    assert inviter.group(1).startswith("好友 #")
    assert "你将获得：优惠券：5 元饮品券" in landing
    assert "验证手机号或电子邮件" in landing  # what the friend has to do
    joined = friend.post(
        url + "/link", data={"csrf_token": csrf(landing), "consent": "yes"}, follow_redirects=False
    )
    assert joined.status_code == 303
    world.run()
    rows = world.results()["rows"]
    assert [r["status"] for r in rows] == ["pending"]
    waiting = me.get(url).text
    assert "1 位待完成" in waiting
    assert re.search(r"<li>好友 #\d+ · 等待好友完成任务</li>", waiting)

    world.verify(rows[0]["invitee_id"], "13800138000")
    world.run()
    done = me.get(url).text
    assert "已有 1 位好友达标" in done
    assert "已达成" in done
    assert re.search(r"<li>好友 #\d+ · 已达标</li>", done)
    assert "邀请你" not in done  # the inviter is not invited by themselves


def test_a_bot_that_fills_the_hidden_field_gets_no_link(world: World) -> None:
    """The referral page's form goes through the same guard as every participant form."""
    world.add_referral(inviter_reward=points(50))
    url = f"/c/{world.campaign['slug']}/referral/{world.activity_id}"
    bot = TestClient(world.client.app, headers={"User-Agent": PHONE_UA})
    page = bot.get(url).text
    refused = bot.post(
        url + "/link",
        data={"csrf_token": csrf(page), "consent": "yes", "website": "http://spam.example"},
    )
    assert refused.status_code == 400
    assert 'id="my-link"' not in refused.text
    assert 'id="my-link"' not in bot.get(url).text


def test_console_results_and_csv(world: World) -> None:
    world.add_referral(inviter_reward=points(10))
    host = world.join(nickname="主持人", ip="192.0.2.1")
    world.join(via=host, ip="192.0.2.2", nickname="邻居")  # same /24: held
    world.join(via=host, ip="198.51.100.3", nickname="朋友")
    world.run()
    login(world.client, world.brand.emails[Role.ANALYST])
    page = world.client.get(f"/console/w/acme/referral/{world.activity_id}")
    assert page.status_code == 200
    assert re.search(r'id="count-qualified">1<', page.text)
    assert re.search(r'id="count-held">1', page.text)
    assert "192.0.2.0/24" in page.text  # the evidence is shown
    exported = world.client.get(f"/console/w/acme/referral/{world.activity_id}/export.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    # An analyst (no people:read) gets the nicknames masked, in the page and the file.
    assert "邻居" not in page.text
    assert sorted((r["invitee"], r["status"], r["held_reasons"]) for r in rows) == [
        ("朋*", "qualified", ""),
        ("邻*", "held", "same_network"),
    ]


def test_the_demo_has_a_referral_with_real_invites(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    from im2.demo import DEMO_PASSWORD, DEMO_USERS, DEMO_WORKSPACE, load_demo

    assert load_demo(db, now=clock.now())
    login_as = DEMO_USERS[0][0]
    page = client.get("/console/login")
    client.post(
        "/console/login",
        data={"email": login_as, "password": DEMO_PASSWORD, "csrf_token": csrf(page.text)},
    )
    listed = client.get(f"/console/w/{DEMO_WORKSPACE}/campaigns?status=paused").text
    campaign_id = int(re.findall(rf"/console/w/{DEMO_WORKSPACE}/campaigns/(\d+)", listed)[0])
    activities = client.get(f"/console/w/{DEMO_WORKSPACE}/campaigns/{campaign_id}/activities")
    found = re.findall(rf"/console/w/{DEMO_WORKSPACE}/referral/(\d+)", activities.text)
    assert found, activities.text
    detail = client.get(f"/console/w/{DEMO_WORKSPACE}/referral/{found[0]}").text
    qualified = int(re.search(r'id="count-qualified">(\d+)<', detail).group(1))
    pending = int(re.search(r'id="count-pending">(\d+)<', detail).group(1))
    held = int(re.search(r'id="count-held">(\d+)', detail).group(1))
    assert qualified >= 15
    assert pending >= 1
    assert held == 1  # the self-referral
    assert "与邀请人使用同一设备" in detail
    assert "林小满" in detail  # the top inviter, by name in the console
    public = client.get(f"/c/invite-3-friends/referral/{found[0]}").text
    assert "林*满" in public  # and masked for the public


def test_the_participant_json_api(world: World) -> None:
    world.add_referral(
        inviter_reward=points(50),
        invitee_reward=points(5),
        milestones=[{"friends": 2, "reward": {"kind": "prize", "prize_id": world.prize_id}}],
    )
    api = f"/api/v1/public/campaigns/{world.campaign['slug']}/referrals/{world.activity_id}"
    me = TestClient(world.client.app, headers={"User-Agent": PHONE_UA})
    before = me.get(api).json()
    assert (before["joined"], before["share_code"]) == (False, None)
    refused = me.post(api + "/link", json={})
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "consent"
    mine = me.post(api + "/link", json={"consent": True})
    assert mine.status_code == 200, mine.text
    code = mine.json()["share_code"]
    assert mine.json()["share_url"].endswith(f"/s/{code}")
    assert me.post(api + "/link", json={}).json()["share_code"] == code  # one link per person

    friend = TestClient(world.client.app, headers={"User-Agent": "Mozilla/5.0 (Android 14)"})
    friend.get(f"/s/{code}?ch=weibo", follow_redirects=False)
    seen = friend.get(api).json()
    assert seen["invited_by"].startswith("Friend #")
    assert seen["invitee_reward"] == "5 points"
    friend.post(api + "/link", json={"consent": True}).raise_for_status()
    world.run()
    after = me.get(api).json()
    assert (after["qualified"], after["pending"], after["rank"]) == (1, 0, 1)
    assert after["milestones"] == [
        {"friends": 2, "reward": "Prize: 樱花保温杯", "reached": False, "missing": 1}
    ]
    assert [f["status"] for f in after["friends"]] == ["qualified"]
    assert after["friends"][0]["name"].startswith("Friend #")
    assert after["leaderboard"][0]["qualified"] == 1
