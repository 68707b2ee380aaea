"""The participant's "my rewards" page and the brand's incentives console, as people use them."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.db import Database
from im2.events.service import list_events
from im2.incentives import service
from im2.incentives.schemas import RewardKind, RewardSpec
from im2.workspaces import service as workspaces
from im2.workspaces.schemas import Role
from tests.conftest import Brand, go_live
from tests.test_auth import login


def _live_campaign(client: TestClient, brand: Brand) -> tuple[str, int]:
    campaign = go_live(client, brand)
    return campaign["slug"], campaign["id"]


def _join(client: TestClient, brand: Brand, db: Database) -> tuple[str, int, int]:
    """A live campaign and this browser's participant (joined by saving a nickname)."""
    slug, campaign_id = _live_campaign(client, brand)
    url = f"/c/{slug}/me/nickname"
    fields = _form(client.get(f"/c/{slug}/me").text, url)
    saved = client.post(
        url, data={**fields, "nickname": "小樱", "consent": "yes"}, follow_redirects=False
    )
    assert saved.status_code == 303, saved.text
    with db.session() as session:
        [joined] = list_events(session, kinds=["participant.joined"])
    assert joined.actor_id is not None
    return slug, campaign_id, int(joined.actor_id)


def _form(html: str, action: str, marker: str = "") -> dict[str, str]:
    for form in re.findall(r"<form\b.*?</form>", html, flags=re.S):
        if f'action="{action}"' in form and marker in form:
            return dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', form))
    raise AssertionError(f"no form posting to {action} with {marker!r}")


def test_my_rewards_shows_points_coupons_and_the_store(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    slug, campaign_id, me = _join(client, brand, db)
    landing = client.get(f"/c/{slug}").text
    assert f'href="/c/{slug}/rewards"' in landing
    with db.transaction() as session:
        actor = workspaces.system_actor(session, workspace_slug="acme")
        pool = service.do_create_pool(
            session, actor=actor, campaign_id=campaign_id, name="满100减20", now=clock.now()
        )
        service.do_generate_codes(session, actor=actor, pool_id=pool.id, count=2, now=clock.now())
        mug = service.do_create_prize(
            session,
            actor=actor,
            campaign_id=campaign_id,
            name="樱花马克杯",
            units=5,
            cost_points=30,
            now=clock.now(),
        )
        granted = service.grant_reward(
            session,
            workspace_id=brand.workspace_id,
            campaign_id=campaign_id,
            participant_id=me,
            reward=RewardSpec(kind=RewardKind.COUPON, pool_id=pool.id),
            key="welcome",
            reason="welcome",
            now=clock.now(),
        )
        service.grant_reward(
            session,
            workspace_id=brand.workspace_id,
            campaign_id=campaign_id,
            participant_id=me,
            reward=RewardSpec(kind=RewardKind.POINTS, points=50),
            key="bonus",
            reason="邀请奖励",
            now=clock.now(),
        )
    assert granted.coupon_code is not None
    page = client.get(f"/c/{slug}/rewards")
    assert page.status_code == 200
    html = page.text
    assert "我的奖励" in html
    shown = service.format_code(granted.coupon_code)
    assert shown in html
    assert "data:image/svg+xml;base64," in html  # the QR code of the coupon
    assert re.search(r'id="points-balance">50<', html)
    assert "邀请奖励" in html

    url = f"/c/{slug}/rewards/buy"
    fields = _form(html, url, f'value="{mug.id}"')
    bought = client.post(url, data=fields, follow_redirects=False)
    assert bought.status_code == 303
    again = client.post(url, data=fields, follow_redirects=False)  # a double tap buys once
    assert again.status_code == 303
    html = client.get(f"/c/{slug}/rewards").text
    assert re.search(r'id="points-balance">20<', html)
    assert "我的奖品" in html
    assert "樱花马克杯" in html

    short = client.post(url, data=_form(html, url, f'value="{mug.id}"'), follow_redirects=False)
    assert short.status_code == 409
    assert "积分不足" in short.text
    assert re.search(r'id="points-balance">20<', short.text)


def test_my_rewards_before_taking_part(client: TestClient, brand: Brand) -> None:
    slug, _campaign_id = _live_campaign(client, brand)
    html = client.get(f"/c/{slug}/rewards").text
    assert "先参与活动" in html
    assert 'id="points-balance"' not in html


def test_console_rules_pools_codes_and_review(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    _slug, campaign_id, me = _join(client, brand, db)
    assert login(client, brand.emails[Role.EDITOR]) == 303
    base = f"/console/w/acme/campaigns/{campaign_id}/incentives"
    page = client.get(base)
    assert page.status_code == 200
    assert "积分规则" in page.text

    saved = client.post(
        f"{base}/rules",
        data={
            **_form(page.text, f"{base}/rules"),
            "event_kind": "vote.cast",
            "points": "5",
            "daily_cap": "3",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    refused = client.post(
        f"{base}/rules",
        data={**_form(page.text, f"{base}/rules"), "event_kind": "vote.cast", "points": "abc"},
    )
    assert refused.status_code == 422
    assert "整数" in refused.text

    created = client.post(
        f"{base}/pools",
        data={
            **_form(page.text, f"{base}/pools"),
            "name": "门店券",
            "max_uses": "1",
            "count": "5",
            "expires_at": "2026-04-01T23:59",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    with db.session() as session:
        [pool] = service.list_pools(session, workspace_id=brand.workspace_id)
    assert pool.total == 5
    assert pool.expires_at is not None
    assert pool.expires_at.isoformat() == "2026-04-01T15:59:00+00:00"  # Shanghai wall time

    page = client.get(base).text
    csv_file = "券码\nSHOP-0001\nshop0002\n".encode("gb18030")
    imported = client.post(
        f"{base}/pools/{pool.id}/import",
        data=_form(page, f"{base}/pools/{pool.id}/import"),
        files={"file": ("codes.csv", csv_file, "text/csv")},
        follow_redirects=False,
    )
    assert imported.status_code == 303
    exported = client.get(f"{base}/pools/{pool.id}/codes.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = exported.text.lstrip("\ufeff").splitlines()
    assert rows[0].startswith("code,status")
    assert len(rows) == 1 + 7
    assert any(r.startswith("SHOP0001,available") for r in rows)

    with db.transaction() as session:
        held = service.grant_reward(
            session,
            workspace_id=brand.workspace_id,
            campaign_id=campaign_id,
            participant_id=me,
            reward=RewardSpec(kind=RewardKind.POINTS, points=40),
            key="suspicious",
            reason="referral.qualified",
            now=clock.now(),
            hold=True,
            evidence={
                "reasons": ["same_network"],
                "details": {"same_network": "203.0.113.7 / 203.0.113.9 (203.0.113.0/24)"},
                "inviter": 41,
                "decides_invite": True,
            },
        )
        other = service.grant_reward(
            session,
            workspace_id=brand.workspace_id,
            campaign_id=campaign_id,
            participant_id=me,
            reward=RewardSpec(kind=RewardKind.POINTS, points=7),
            key="other",
            reason="referral.qualified",
            now=clock.now(),
            hold=True,
        )
    page = client.get(base).text
    # The evidence is shown in the reviewer's language: the signal, its detail, the facts.
    evidence = re.findall(r"<dt>([^<]+)</dt><dd>([^<]*)</dd>", page)
    assert evidence == [
        (
            "与邀请人处于同一网段（IPv4 /24 或 IPv6 /64）",
            "203.0.113.7 / 203.0.113.9 (203.0.113.0/24)",
        ),
        ("邀请人", "#41"),
        ("通过或作废此奖励即决定该邀请的结果", "是"),
    ]
    assert re.search(r'id="review-count">2<', page)
    decide = f"{base}/grants/{held.grant_id}/decide"
    approved = client.post(
        decide,
        data={**_form(page, decide, "approve"), "decision": "approve"},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    twice = client.post(decide, data={**_form(page, decide, "approve"), "decision": "approve"})
    assert twice.status_code == 409
    decide_other = f"{base}/grants/{other.grant_id}/decide"
    voided = client.post(
        decide_other,
        data={**_form(page, decide_other, "void"), "decision": "void"},
        follow_redirects=False,
    )
    assert voided.status_code == 303

    lookup = client.get(f"{base}?participant={me}").text
    assert re.search(r'id="lookup-balance">40<', lookup)
    assert "审核后作废" in lookup  # the void is in the ledger too
    with db.session() as session:
        kinds = [e.kind for e in list_events(session, kinds=["reward.approved", "reward.voided"])]
    assert kinds == ["reward.approved", "reward.voided"]

    viewer = TestClient(client.app)
    assert login(viewer, brand.emails[Role.VIEWER]) == 303
    assert viewer.get(base).status_code == 200
    denied = viewer.post(
        f"{base}/rules",
        data={
            **_form(viewer.get(base).text, f"{base}/rules"),
            "event_kind": "vote.cast",
            "points": "5",
        },
    )
    assert denied.status_code == 403
