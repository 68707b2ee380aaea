"""The brand on public pages and the marketer's share kit: colours checked for contrast (WCAG
2.x), a logo checked by its bytes, a campaign's override, a link, QR code and poster per channel,
and top sharers named by their nickname (masked for roles that may not see people)."""

from __future__ import annotations

import html
import io
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import qrcode
import qrcode.image.svg
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from im2.clock import ManualClock
from im2.db import Database
from im2.workspaces import branding
from im2.workspaces.brand.models import Brand as BrandRow
from im2.workspaces.branding import BrandChanges
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_auth import csrf, login
from tests.test_polls import live_campaign, page_form, vote_url
from tests.test_sharing import _get_link


def _tree_names(page: str) -> list[str]:
    """The labels of the share-tree chart: every node's name."""
    found = re.search(r"data-tree='([^']+)'", page)
    assert found is not None

    def walk(node: dict[str, Any]) -> list[str]:
        return [node["name"], *(n for child in node["children"] for n in walk(child))]

    return walk(json.loads(html.unescape(found.group(1))))


def png(
    color: tuple[int, int, int, int] = (200, 16, 46, 255), size: tuple[int, int] = (300, 100)
) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, color).save(out, "PNG")
    return out.getvalue()


# --- contrast: the WCAG 2.x formula against published figures --------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("#000000", "#ffffff", 21.0),  # the definition's extremes
        ("#ffffff", "#ffffff", 1.0),
        ("#767676", "#ffffff", 4.54),  # the grey WebAIM names as the lightest passing on white
        ("#777777", "#ffffff", 4.48),  # one step lighter fails
        ("#c8102e", "#ffffff", 5.88),  # IM2's red, as an independent library (coloraide) gives
        ("#0000ff", "#ffffff", 8.59),  # pure blue on white, WebAIM's checker
    ],
)
def test_the_contrast_ratio_is_wcags(a: str, b: str, expected: float) -> None:
    assert branding.contrast_ratio(a, b) == pytest.approx(expected, abs=0.005)
    assert branding.contrast_ratio(b, a) == pytest.approx(expected, abs=0.005)


def test_colours_that_cannot_be_read_are_refused_or_get_dark_text() -> None:
    # White on #ffdd00: L = 0.2126 + 0.7152 * 0.723 = 0.730, (1.05) / (0.780) = 1.35, shown 1.3:1
    yellow = BrandChanges(primary_color="#FD0")
    notices = branding.check_brand(yellow)
    assert yellow.primary_color == "#ffdd00"
    assert branding.text_on("#ffdd00") == branding.DARK_TEXT
    assert "1.3:1" in notices[0]
    assert "深色文字" in notices[0]

    grey = BrandChanges(primary_color="#808080", accent_color="#ff9900", name="x" * 81)
    with pytest.raises(branding.BrandInvalid) as refused:
        branding.check_brand(grey)
    errors = refused.value.errors
    assert set(errors) == {"primary_color", "accent_color", "name"}  # every problem at once
    assert "4.5:1" in errors["primary_color"]
    # The shade it proposes passes, and is the lightest of its kind that does.
    shade = re.search(r"#[0-9a-f]{6}", errors["accent_color"].split("例如")[1]).group(0)  # type: ignore[union-attr]
    assert branding.contrast_ratio(shade, branding.PAGE_BACKGROUND) >= 4.5
    lighter = "#{:02x}{:02x}{:02x}".format(
        *(min(255, int(shade[i : i + 2], 16) + 3) for i in (1, 3, 5))
    )
    assert branding.contrast_ratio(lighter, branding.PAGE_BACKGROUND) < 4.5

    with pytest.raises(branding.BrandInvalid) as bad:
        branding.check_brand(BrandChanges(primary_color="red"))
    assert bad.value.errors["primary_color"] == "请用十六进制色值填写颜色，例如 #c8102e。"


# --- the brand pages and the public pages ---------------------------------------------------


def _save(
    client: TestClient,
    path: str,
    data: dict[str, str],
    files: dict[str, tuple[str, bytes, str]] | None = None,
) -> object:
    return client.post(
        path,
        data={"csrf_token": csrf(client, path), **data},
        files=files or {},
        follow_redirects=False,
    )


def test_a_brand_shows_on_every_public_page_and_a_campaign_can_override_it(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    slug, poll_id, _options = live_campaign(client, brand)
    before = client.get(f"/c/{slug}").text
    assert 'class="brand-bar"' in before
    assert "Brand acme" in before
    assert "--accent:" not in before  # IM2's own colours until the brand sets some

    assert login(client, brand.emails[Role.EDITOR]) == 303
    saved = _save(
        client,
        "/console/w/acme/brand",
        {"name": "山野咖啡", "primary_color": "#1F6F4A", "accent_color": "#0b5cad"},
        {"logo": ("logo.png", png(), "image/png")},
    )
    assert saved.status_code == 303, saved.text  # type: ignore[attr-defined]
    page = client.get(f"/c/{slug}").text
    assert "山野咖啡" in page
    assert "--accent:#1f6f4a;--accent-fg:#ffffff" in page
    assert "--info:#0b5cad" in page
    logo = re.search(
        r'class="brand-bar"><a href="/c/[^"]+"><img src="(/media/brand/\d+/[^"]+)"', page
    )
    assert logo is not None, page[:1500]
    served = client.get(logo.group(1))
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(served.content))
    assert image.size == (300, 100)
    assert image.mode == "RGBA"
    # The share page, the rewards page and the profile carry it too.
    for path in ("share", "rewards", "me"):
        assert "山野咖啡" in client.get(f"/c/{slug}/{path}").text, path

    # The campaign overrides the name and the main colour; the link colour stays the workspace's.
    campaign_id = client.get(
        f"/api/v1/activities/{poll_id}", headers=brand.auth(Role.OWNER)
    ).json()["campaign_id"]
    path = f"/console/w/acme/campaigns/{campaign_id}/brand"
    assert _save(client, path, {"name": "樱花季", "primary_color": "#ffdd00"}).status_code == 200  # type: ignore[attr-defined]
    page = client.get(f"/c/{slug}").text
    assert "樱花季" in page
    assert "山野咖啡" not in page
    assert "--accent:#ffdd00;--accent-fg:#1d2330" in page  # dark text: white would not read
    assert "--info:#0b5cad" in page
    # Emptying the campaign's name gives the workspace's back.
    _save(client, path, {"name": "", "primary_color": "#ffdd00"})
    assert "山野咖啡" in client.get(f"/c/{slug}").text


def test_the_brand_form_lists_every_problem_and_keeps_what_was_typed(
    client: TestClient, brand: Brand
) -> None:
    assert login(client, brand.emails[Role.OWNER]) == 303
    refused = _save(
        client,
        "/console/w/acme/brand",
        {"name": "山野咖啡", "primary_color": "#888888", "accent_color": "#ffcc00"},
        {"logo": ("logo.png", b"<svg onload=alert(1)>", "image/png")},
    )
    assert refused.status_code == 422  # type: ignore[attr-defined]
    html = refused.text  # type: ignore[attr-defined]
    assert 'id="primary_color-error"' in html
    assert 'id="accent_color-error"' in html
    assert 'id="logo-error"' in html
    assert "这个文件不是可识别的图片。" in html
    assert 'value="山野咖啡"' in html
    assert 'value="#888888"' in html
    assert "4.5:1" in html
    # Nothing was saved.
    branding.BRANDS.clear()
    page = client.get("/console/w/acme/brand").text
    assert 'value="山野咖啡"' not in page


def test_only_roles_that_run_campaigns_change_the_brand(client: TestClient, brand: Brand) -> None:
    assert login(client, brand.emails[Role.VIEWER]) == 303
    page = client.get("/console/w/acme/brand")
    assert page.status_code == 200
    assert "可以查看品牌外观，但不能修改" in page.text
    refused = _save(client, "/console/w/acme/brand", {"name": "X"})
    assert refused.status_code == 403  # type: ignore[attr-defined]


def test_two_first_saves_at_once_make_one_brand(
    db: Database, brand: Brand, clock: ManualClock
) -> None:
    from im2.workspaces import service as workspaces

    def save(name: str) -> str:
        with db.transaction() as session:
            actor = workspaces.system_actor(session, workspace_slug="acme")
            saved = branding.do_set_brand(
                session,
                actor=actor,
                campaign_id=None,
                changes=BrandChanges(name=name),
                logo_name=None,
                cover_name=None,
                now=clock.now(),
            )
        return saved.brand.name or ""

    with ThreadPoolExecutor(2) as pool:
        names = list(pool.map(save, ["甲", "乙"]))
    assert sorted(names) == ["乙", "甲"]
    with db.session() as session:
        view = branding.resolve_brand(session, workspace_id=brand.workspace_id, campaign_id=None)
        rows = session.scalars(
            select(BrandRow).where(BrandRow.workspace_id == brand.workspace_id)
        ).all()
    assert len(rows) == 1
    assert view.name in ("甲", "乙")


# --- the share kit and the sharing page ------------------------------------------------------


def test_the_share_kit_has_a_tagged_link_qr_code_and_poster_per_channel(
    client: TestClient, brand: Brand
) -> None:
    slug, poll_id, _options = live_campaign(client, brand)
    campaign_id = client.get(
        f"/api/v1/activities/{poll_id}", headers=brand.auth(Role.OWNER)
    ).json()["campaign_id"]
    assert login(client, brand.emails[Role.VIEWER]) == 303
    page = client.get(f"/console/w/acme/campaigns/{campaign_id}/sharing").text
    links = dict(re.findall(r'data-channel="([a-z]+)".*?data-copy="([^"]+)"', page, re.S))
    assert set(links) == {"wechat", "weibo", "douyin", "xiaohongshu", "sms", "email", "offline"}
    for channel, url in links.items():
        parts = urlsplit(url.replace("&amp;", "&"))
        assert parts.path == f"/c/{slug}"
        assert parts.netloc == "testserver"
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert query["ch"] == channel
        assert query["utm_source"] == channel
        assert query["utm_campaign"] == slug
    assert "小红书" in page
    assert "短信" in page
    assert "线下" in page

    url = links["weibo"].replace("&amp;", "&")
    svg = client.get(f"/console/w/acme/campaigns/{campaign_id}/sharing/kit/weibo.svg")
    expected = io.BytesIO()
    qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage).save(expected)
    assert svg.content == expected.getvalue()
    assert "attachment" in svg.headers["content-disposition"]
    qr_png = client.get(f"/console/w/acme/campaigns/{campaign_id}/sharing/kit/weibo.png")
    assert qr_png.headers["content-type"] == "image/png"
    poster = client.get(f"/console/w/acme/campaigns/{campaign_id}/sharing/kit/offline/poster.png")
    assert poster.status_code == 200
    assert Image.open(io.BytesIO(poster.content)).width > 500
    assert (
        client.get(f"/console/w/acme/campaigns/{campaign_id}/sharing/kit/myspace.png").status_code
        == 404
    )

    # The tagged link counts where it says: a visit through it is a visit from that channel.
    visitor = TestClient(client.app)
    assert visitor.get(url.replace("http://testserver", "")).status_code == 200
    assert visitor.cookies.get("im2_ch") in (None, "weibo")


def test_top_sharers_and_the_tree_name_people_masked_for_roles_without_people_access(
    client: TestClient, brand: Brand, clock: ManualClock
) -> None:
    slug, poll_id, options = live_campaign(client, brand)

    def take_part(person: TestClient, nickname: str, code: str | None = None) -> None:
        clock.advance(timedelta(minutes=5))
        if code is not None:
            person.get(f"/s/{code}?ch=wechat")
        voted = person.post(
            vote_url(slug, poll_id), json={"options": [options[0]], "consent": True}
        )
        assert voted.status_code == 201, voted.text
        form = page_form(person, f"/c/{slug}/me")
        person.post(f"/c/{slug}/me/nickname", data={**form, "nickname": nickname})

    ann, ben, cai = (TestClient(client.app) for _ in range(3))
    take_part(ann, "王小明")
    take_part(ben, "Lily", _get_link(ann, slug))
    take_part(cai, "阿才", _get_link(ben, slug))
    campaign_id = client.get(
        f"/api/v1/activities/{poll_id}", headers=brand.auth(Role.OWNER)
    ).json()["campaign_id"]

    assert login(client, brand.emails[Role.EDITOR]) == 303
    page = client.get(f"/console/w/acme/campaigns/{campaign_id}/sharing").text
    top = page.split("分享达人")[1]
    assert re.search(r'<td data-label="[^"]+">王小明</td><td data-label="[^"]+">2</td>', top), top[
        :800
    ]
    assert re.search(r'<td data-label="[^"]+">Lily</td><td data-label="[^"]+">1</td>', top)
    assert "#" + "1</td>" not in top
    assert sorted(_tree_names(page)) == sorted(["春季樱花投票", "王小明", "Lily", "阿才"])

    with TestClient(client.app) as analyst:
        assert login(analyst, brand.emails[Role.ANALYST]) == 303
        masked = analyst.get(f"/console/w/acme/campaigns/{campaign_id}/sharing").text
    assert sorted(_tree_names(masked)) == sorted(["春季樱花投票", "王*明", "L**y", "阿*"])
    assert re.search(r">王\*明</td>", masked)
    assert "王小明" not in masked
    assert "Lily" not in masked
