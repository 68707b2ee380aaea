"""The share poster: a phone-sized PNG whose QR code is the participant's own link, with
Chinese drawn in the bundled font, served at /c/<slug>/share/poster.png."""

from __future__ import annotations

import io
import re

import qrcode
import qrcode.constants
from fastapi.testclient import TestClient
from fontTools.ttLib import TTFont  # type: ignore[import-untyped, unused-ignore]
from PIL import Image

from im2 import fonts
from im2.config import Settings
from im2.db import Database
from im2.events.service import list_events
from im2.sharing import poster
from tests.conftest import Brand
from tests.test_polls import live_campaign, page_form, vote_url
from tests.test_sharing import _get_link

URL = "http://127.0.0.1:8000/s/abcdefghij?ch=qr"


def expected_matrix(url: str) -> list[list[bool]]:
    """The QR code of `url` as an independent encoder run makes it (no quiet zone)."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    qr.add_data(url)
    qr.make(fit=True)
    return [[bool(m) for m in row] for row in qr.get_matrix()]


def drawn_matrix(image: Image.Image, n: int) -> list[list[bool]]:
    """Read an n×n QR code off the poster's QR square: its dark extent (the finder patterns
    mark three corners) split into n×n modules, each sampled at its centre."""
    area = image.crop(poster.QR_AREA).convert("L")
    mask = area.point(lambda v: 255 if v < 128 else 0)
    box = mask.getbbox()
    assert box is not None, "no QR code drawn"
    left, top, right, bottom = box
    assert right - left == bottom - top
    step = (right - left) / n
    return [
        [
            area.getpixel((int(left + (c + 0.5) * step), int(top + (r + 0.5) * step))) < 128  # type: ignore[operator]
            for c in range(n)
        ]
        for r in range(n)
    ]


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_the_poster_is_a_phone_sized_png_whose_qr_code_is_the_link() -> None:
    png = poster.render_poster(
        title="2026 春季新品发布会：投票选出你最爱的口味",
        subtitle="参与投票即可抽奖",
        nickname="小明",
        url=URL,
        locale="zh_CN",
    )
    image = decode(png)
    assert image.format == "PNG"
    assert image.size == (1080, 1920)
    expected = expected_matrix(URL)
    assert drawn_matrix(image, len(expected)) == expected
    # Another link gives another code: the comparison above is not vacuous.
    other = expected_matrix("http://127.0.0.1:8000/s/zzzzzzzzzz?ch=qr")
    assert drawn_matrix(image, len(other)) != other


def test_chinese_text_is_covered_by_the_bundled_font_and_missing_glyphs_are_left_out() -> None:
    title = "2026 春季新品发布会：投票选出你最爱的口味，赢取限量礼盒！"
    with TTFont(fonts.BOLD) as font:
        cmap = font.getBestCmap()
    assert all(ord(c) in cmap for c in title if not c.isspace())
    assert fonts.missing_characters(title, bold=True) == []
    # Emoji and a hanzi outside GB 2312 have no glyph: reported, and not drawn as boxes.
    assert fonts.missing_characters("礼盒🎉𠀀🎉") == ["🎉", "𠀀"]
    assert poster.drawable("赢取 🎉 礼盒\n 限量") == "赢取 礼盒 限量"
    # The title is really drawn: white pixels appear in the title area, none without a title.
    with_title = decode(
        poster.render_poster(title=title, subtitle=None, nickname="小明", url=URL, locale="zh_CN")
    )
    without = decode(
        poster.render_poster(title="🎉", subtitle=None, nickname="小明", url=URL, locale="zh_CN")
    )
    region = (poster.MARGIN, 300, 1080 - poster.MARGIN, 1000)

    def white(img: Image.Image) -> int:
        return sum(img.crop(region).convert("L").histogram()[241:])

    assert white(with_title) > 20_000
    assert white(without) < white(with_title) / 10
    # A nickname the font cannot draw at all is not left blank: the invite names "a friend".
    from_emoji = decode(
        poster.render_poster(title=title, subtitle=None, nickname="🎉🎉", url=URL, locale="zh_CN")
    )
    from_friend = decode(
        poster.render_poster(title=title, subtitle=None, nickname="好友", url=URL, locale="zh_CN")
    )
    assert from_emoji.tobytes() == from_friend.tobytes()


def test_wrapping_breaks_chinese_between_characters_and_latin_between_words() -> None:
    font = poster._font(poster.TITLE_SIZE, bold=True)
    width = 1080 - 2 * poster.MARGIN
    text = "（活动）这是一个很长的标题，用来检查标点符号不会出现在行首。Hello wonderful world"
    lines = poster.wrap(text, font, width)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(font.getlength(line) <= width for line in lines)
    assert len(lines) >= 4
    for line in lines:
        assert line[0] not in "，。、）"  # no closing mark starts a line
        assert line[-1] not in "（"  # no opening mark ends one
    latin = poster.wrap("Hello wonderful world of interactive marketing campaigns", font, 500)
    words = ["Hello", "wonderful", "world", "of", "interactive", "marketing", "campaigns"]
    assert [w for line in latin for w in line.split()] == words  # words never cut
    # Too long a title is cut to four lines ending with an ellipsis.
    long = poster.fit("很长" * 200, font, limit=poster.TITLE_LINES, width=width)
    assert len(long) == poster.TITLE_LINES
    assert long[-1].endswith("…")


def test_a_participant_downloads_their_own_poster(
    client: TestClient, brand: Brand, db: Database, settings: Settings
) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    # Nobody has taken part on this device yet: no poster (there is no link to put on it).
    refused = client.get(f"/c/{slug}/share/poster.png")
    assert refused.status_code == 404
    assert "先参与" in refused.text

    client.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    form = page_form(client, f"/c/{slug}/me")
    client.post(f"/c/{slug}/me/nickname", data={**form, "nickname": "小明"})
    code = _get_link(client, slug)
    share_page = client.get(f"/c/{slug}/share").text
    assert re.search(rf'href="/c/{slug}/share/poster.png"[^>]*>保存海报<', share_page)

    response = client.get(f"/c/{slug}/share/poster.png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    image = decode(response.content)
    assert image.size == (1080, 1920)
    link = f"http://testserver/s/{code}?ch=qr"  # the address the phone reached
    expected = expected_matrix(link)
    assert drawn_matrix(image, len(expected)) == expected

    with db.session() as session:
        events = list_events(session, kinds=["poster.downloaded"])
    assert len(events) == 1
    assert events[0].referrer == code
    assert events[0].actor_type == "participant"

    assert client.get("/c/no-such-campaign/share/poster.png").status_code == 404
