"""Share links: a participant shares, a friend follows the link and joins, the share tree
and K-factor count it (first touch), and QR codes render."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.db import Database
from im2.events.service import list_events
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_auth import login
from tests.test_polls import live_campaign, vote_url


def _get_link(client: TestClient, slug: str) -> str:
    page = client.get(f"/c/{slug}/share")
    form = re.search(r'action="/c/[^"]+/share">.*?name="csrf_token" value="([^"]+)"', page.text)
    if form:  # no link yet: ask for one
        created = client.post(
            f"/c/{slug}/share", data={"csrf_token": form.group(1)}, follow_redirects=False
        )
        assert created.status_code == 303
    page_text = client.get(f"/c/{slug}/share").text
    return re.search(r"/s/([a-z0-9]{10})\?ch=wechat", page_text).group(1)


def test_a_friend_brought_by_a_link_counts_in_the_share_tree(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    assert "先参与" in client.get(f"/c/{slug}/share").text  # no link before taking part
    assert (
        client.post(
            vote_url(slug, poll_id), json={"options": [options[0]], "consent": True}
        ).status_code
        == 201
    )
    code = _get_link(client, slug)
    assert _get_link(client, slug) == code  # one link per person and campaign

    clock.advance(timedelta(minutes=5))  # the share tree needs the sharer to have come first
    friend = TestClient(client.app)
    landing = friend.get(f"/s/{code}?ch=wechat", follow_redirects=False)
    assert landing.status_code == 303
    assert landing.headers["location"] == f"/c/{slug}?ch=wechat"
    assert friend.cookies.get("im2_ref") == code
    assert (
        friend.post(
            vote_url(slug, poll_id), json={"options": [options[1]], "consent": True}
        ).status_code
        == 201
    )

    # The friend later follows someone else's link: the first touch keeps the credit.
    other = TestClient(client.app)
    other.post(vote_url(slug, poll_id), json={"options": [options[2]], "consent": True})
    other_code = _get_link(other, slug)
    friend.get(f"/s/{other_code}?ch=weibo", follow_redirects=False)
    assert friend.cookies.get("im2_ref") == code

    clock.advance(timedelta(days=3))  # the K-factor counts people who had 3 days to invite
    login(client, brand.emails[Role.ANALYST])
    campaign_id = client.get(
        f"/api/v1/activities/{poll_id}", headers=brand.auth(Role.OWNER)
    ).json()["campaign_id"]
    page = client.get(f"/console/w/acme/campaigns/{campaign_id}/sharing").text
    assert re.search(r"邀请来的参与者</span><strong>1<", page)
    assert '<strong id="k-factor">0.33<' in page  # 1 brought in by the 3 who had 3 days
    assert 'id="share-tree"' in page
    with db.session() as session:
        clicks = list_events(session, kinds=["share.clicked"])
    assert [(e.referrer, e.channel) for e in clicks] == [(code, "wechat"), (other_code, "weibo")]


def test_qr_codes_and_unknown_links(client: TestClient, brand: Brand) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    client.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    code = _get_link(client, slug)
    png = client.get(f"/s/{code}/qr.png")
    assert png.headers["content-type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    svg = client.get(f"/s/{code}/qr.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content
    assert client.get("/s/nosuchcode1").status_code == 404
    assert client.get("/s/nosuchcode1/qr.png").status_code == 404
    assert client.get(f"/s/{code}/qr.gif").status_code == 404


def test_a_join_without_a_counted_click_still_counts_as_an_invite(
    client: TestClient, brand: Brand, clock: ManualClock
) -> None:
    """More referred joins than logged clicks (a code typed in, a cookie from before clicks
    were counted) must not break the console: the join is an invite sent and converted."""
    slug, poll_id, options = live_campaign(client, brand)
    client.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    code = _get_link(client, slug)
    clock.advance(timedelta(minutes=5))  # the share tree needs the sharer to have come first
    clicked = TestClient(client.app)
    clicked.get(f"/s/{code}?ch=wechat", follow_redirects=False)  # the one counted click
    typed = TestClient(client.app)
    typed.cookies.set("im2_ref", code)  # arrived with the code, no click on /s/<code>
    for friend in (clicked, typed):
        assert (
            friend.post(
                vote_url(slug, poll_id), json={"options": [options[1]], "consent": True}
            ).status_code
            == 201
        )

    clock.advance(timedelta(days=3))  # the K-factor counts people who had 3 days to invite
    login(client, brand.emails[Role.ANALYST])
    campaign_id = client.get(
        f"/api/v1/activities/{poll_id}", headers=brand.auth(Role.OWNER)
    ).json()["campaign_id"]
    page = client.get(f"/console/w/acme/campaigns/{campaign_id}/sharing")
    assert page.status_code == 200
    assert re.search(r"邀请来的参与者</span><strong>2<", page.text)
    assert '<strong id="k-factor">0.67<' in page.text  # 2 brought in by the 3 who had 3 days


def test_utm_parameters_are_kept_passed_on_and_name_the_channel(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    client.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    code = _get_link(client, slug)

    tagged = TestClient(client.app)
    landing = tagged.get(
        f"/s/{code}?utm_source=Xiaohongshu&utm_medium=note&utm_campaign=spring+launch"
        "&utm_content=" + "x" * 300,
        follow_redirects=False,
    )
    assert landing.status_code == 303
    # No `ch`: the UTM source names the channel, and the campaign page gets the UTMs too.
    assert landing.headers["location"] == (
        f"/c/{slug}?ch=xiaohongshu&utm_source=Xiaohongshu&utm_medium=note"
        f"&utm_campaign=spring+launch&utm_content={'x' * 100}"
    )
    assert (
        tagged.post(
            vote_url(slug, poll_id), json={"options": [options[1]], "consent": True}
        ).status_code
        == 201
    )
    # An explicit channel tag wins over the UTM source.
    plain = TestClient(client.app)
    assert plain.get(f"/s/{code}?ch=wechat&utm_source=newsletter", follow_redirects=False)
    with db.session() as session:
        clicks = list_events(session, kinds=["share.clicked"])
    assert [(e.channel, e.properties.get("utm")) for e in clicks] == [
        (
            "xiaohongshu",
            {
                "utm_source": "Xiaohongshu",
                "utm_medium": "note",
                "utm_campaign": "spring launch",
                "utm_content": "x" * 100,
            },
        ),
        ("wechat", {"utm_source": "newsletter"}),
    ]

    login(client, brand.emails[Role.ANALYST])
    campaign_id = client.get(
        f"/api/v1/activities/{poll_id}", headers=brand.auth(Role.OWNER)
    ).json()["campaign_id"]
    page = client.get(f"/console/w/acme/campaigns/{campaign_id}/sharing").text
    table = page[page.index('id="share-channels"') :]
    rows = re.findall(
        r"<tr><td[^>]*>([^<]+)</td><td[^>]*>(\d+)</td><td[^>]*>(\d+)</td></tr>", table
    )
    assert rows == [("小红书", "1", "1"), ("微信", "1", "0")]
