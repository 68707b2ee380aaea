"""Views of the public pages reach the analytics: a visitor who looks and votes is one viewer
with one interaction, a friend who follows a share link is reached through it, and what is no
view (a HEAD, the big screen, a crawler, a prefetch) counts nothing."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from im2.db import Database
from im2.events.service import list_events
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_polls import live_campaign, page_form, vote_url
from tests.test_sharing import _get_link


def overview(client: TestClient, brand: Brand, campaign_id: int) -> dict[str, dict[str, Any]]:
    response = client.get(
        f"/api/v1/campaigns/{campaign_id}/overview", headers=brand.auth(Role.VIEWER)
    )
    assert response.status_code == 200, response.text
    metrics: dict[str, dict[str, Any]] = response.json()["metrics"]
    return metrics


def funnel(metrics: dict[str, dict[str, Any]]) -> dict[str, float]:
    return {row["stage"]: row["people"] for row in metrics["aisas_funnel"]["rows"]}


def campaign_of(client: TestClient, brand: Brand, poll_id: int) -> int:
    found = client.get(f"/api/v1/activities/{poll_id}", headers=brand.auth(Role.OWNER))
    campaign_id: int = found.json()["campaign_id"]
    return campaign_id


def test_a_visitor_who_looks_and_votes_is_one_viewer_with_one_interaction(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    campaign_id = campaign_of(client, brand, poll_id)
    visitor = TestClient(client.app)
    visitors, votes = 1, 0

    # The visitor opens the campaign from WeChat, reloads it, opens the poll and votes on it.
    assert visitor.get(f"/c/{slug}?ch=wechat").status_code == 200
    assert visitor.get(f"/c/{slug}").status_code == 200
    form = page_form(visitor, f"/c/{slug}/poll/{poll_id}")
    voted = visitor.post(
        f"/c/{slug}/poll/{poll_id}/vote",
        data={**form, "option": str(options[0]), "consent": "yes"},
    )
    assert voted.status_code == 200  # back on the poll page (another view), thanked
    assert "感谢" in voted.text or "谢谢" in voted.text, voted.text[:500]
    votes += 1

    # None of these is a person looking at a page.
    bystander = TestClient(client.app)
    assert bystander.head(f"/c/{slug}").status_code in (200, 405)
    assert bystander.get(f"/c/{slug}/poll/{poll_id}/screen").status_code == 200
    prefetch = {"Sec-Purpose": "prefetch"}
    assert bystander.get(f"/c/{slug}/poll/{poll_id}", headers=prefetch).status_code == 200
    crawler = {"User-Agent": "Mozilla/5.0 (compatible; Baiduspider/2.0)"}
    assert bystander.get(f"/c/{slug}", headers=crawler).status_code == 200
    assert bystander.get(f"/c/{slug}/poll/{poll_id + 99}").status_code == 404

    metrics = overview(client, brand, campaign_id)
    assert metrics["reach"]["value"] == visitors
    assert metrics["interactions"]["value"] == votes
    assert metrics["interaction_rate"]["value"] == votes / visitors * 100
    stages = funnel(metrics)
    assert stages["attention"] == visitors
    assert stages["interest"] == visitors  # the one who looked also voted
    coverage = {r["channel"]: r["reach"] for r in metrics["coverage_by_channel"]["rows"]}
    assert coverage == {"wechat": visitors}  # the channel of the landing sticks to the visit

    with db.session() as session:
        views = list_events(session, kinds=["campaign.viewed", "activity.viewed"])
    # Two looks at the campaign, the poll before and after the vote: four views, one device.
    assert [(e.kind, e.activity_id) for e in views] == [
        ("campaign.viewed", None),
        ("campaign.viewed", None),
        ("activity.viewed", poll_id),
        ("activity.viewed", poll_id),
    ]
    assert {e.actor_type for e in views} == {"visitor"}
    assert len({e.actor_id for e in views}) == 1
    assert re.fullmatch(r"d:[0-9a-f]{32}", views[0].actor_id or "")
    assert all(e.campaign_id == campaign_id for e in views)


def test_a_friend_who_follows_a_share_link_is_reached_through_it(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    campaign_id = campaign_of(client, brand, poll_id)
    sharer = TestClient(client.app)
    assert sharer.get(f"/c/{slug}").status_code == 200
    assert (
        sharer.post(
            vote_url(slug, poll_id), json={"options": [options[0]], "consent": True}
        ).status_code
        == 201
    )
    code = _get_link(sharer, slug)

    friend = TestClient(client.app)
    landing = friend.get(f"/s/{code}?ch=weibo&utm_campaign=spring")
    assert landing.status_code == 200
    assert str(landing.url).endswith(f"/c/{slug}?ch=weibo&utm_campaign=spring")
    assert friend.get(f"/c/{slug}").status_code == 200  # a reload is no second arrival

    with db.session() as session:
        click = list_events(session, kinds=["share.clicked"])[0]
        views = list_events(session, kinds=["campaign.viewed"])
    friend_views = [v for v in views if v.actor_id == click.actor_id]
    assert click.actor_type == "visitor"
    assert click.actor_id is not None
    assert [(v.referrer, v.channel) for v in friend_views] == [(code, "weibo"), (None, "weibo")]
    assert friend_views[0].properties == {"source": "share", "utm": {"utm_campaign": "spring"}}

    metrics = overview(client, brand, campaign_id)
    looked = 2  # the sharer and the friend
    assert metrics["reach"]["value"] == looked
    stages = funnel(metrics)
    assert stages["attention"] == looked
    assert stages["search"] == 1  # the friend came through the share
    assert stages["share"] == 1
    media = {r["media"]: r["reach"] for r in metrics["media_breakdown"]["rows"]}
    assert media["earned"] == 1  # brought by a share, whatever the channel


def test_search_traffic_is_told_apart(client: TestClient, brand: Brand, db: Database) -> None:
    slug, poll_id, _options = live_campaign(client, brand)
    campaign_id = campaign_of(client, brand, poll_id)
    searcher = TestClient(client.app)
    searcher.get(f"/c/{slug}", headers={"Referer": "https://www.baidu.com/s?wd=coffee"})

    with db.session() as session:
        (view,) = list_events(session, kinds=["campaign.viewed"])
    assert view.properties == {"from": "www.baidu.com", "source": "search"}
    assert re.fullmatch(r"d:[0-9a-f]{32}", view.actor_id or "")
    assert funnel(overview(client, brand, campaign_id))["search"] == 1
