"""The share poster: a phone-sized PNG with the campaign's title, who invites, and the QR code
of the participant's own share link, drawn with Pillow in the bundled Noto Sans SC.

Pure: text in, PNG bytes out; no database, no web. Characters the bundled font has no glyph
for (emoji, rare hanzi beyond GB 2312) would print as empty boxes, so they are left out of the
drawing and logged; `im2.fonts.missing_characters` tells which they are.
"""

from __future__ import annotations

import io
import logging
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

import qrcode
import qrcode.constants
from PIL import Image, ImageDraw, ImageFont

from im2 import fonts
from im2.i18n import _, use_locale

log = logging.getLogger(__name__)

WIDTH, HEIGHT = 1080, 1920
MARGIN = 96
TOP = "#c8102e"  # the product's accent red
BOTTOM = "#7d0a1d"
INK = "#1d2330"
MUTED = "#5d6678"
# The white card at the bottom and the square inside it that holds the QR code (quiet zone
# included): (left, top, right, bottom).
CARD = (MARGIN, 1100, WIDTH - MARGIN, HEIGHT - MARGIN)
QR_SIZE = 480
QR_AREA = (
    (WIDTH - QR_SIZE) // 2,
    CARD[1] + 60,
    (WIDTH + QR_SIZE) // 2,
    CARD[1] + 60 + QR_SIZE,
)
TITLE_SIZE, TITLE_LINES = 88, 4
SUBTITLE_SIZE, SUBTITLE_LINES = 40, 3
INVITE_SIZE = 44
# Line-breaking rules (kinsoku): these never start a line, these never end one.
NO_LINE_START = frozenset("、。，．,.!！?？:：;；)）]】」』》〉〕}｝'\"’”…‥·・%％～~ー—-")
NO_LINE_END = frozenset("(（[【「『《〈〔{｛‘“")


@lru_cache(maxsize=16)
def _font(size: int, *, bold: bool) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(fonts.BOLD if bold else fonts.REGULAR), size)


def drawable(text: str, *, bold: bool = False) -> str:
    """`text` without the characters the bundled font cannot draw, and with runs of whitespace
    (line breaks included) made one space."""
    missing = set(fonts.missing_characters(text, bold=bold))
    if missing:
        log.info("poster: no glyph for %s; left out", "".join(sorted(missing)))
    kept = "".join(c for c in text if c not in missing and unicodedata.category(c) != "Cc")
    return " ".join(kept.split())


def _is_cjk(char: str) -> bool:
    """Characters that break anywhere: hanzi, kana, hangul, fullwidth forms and CJK punctuation
    (East Asian width W or F)."""
    return unicodedata.east_asian_width(char) in ("W", "F")


def _tokens(text: str) -> Iterator[str]:
    """Breakable units: one CJK character, one Latin word (with what sticks to it), one space."""
    word = ""
    for char in text:
        if char == " ":
            if word:
                yield word
                word = ""
            yield " "
        elif _is_cjk(char):
            if word:
                yield word
                word = ""
            yield char
        else:
            word += char
    if word:
        yield word


def _units(text: str) -> list[str]:
    """Tokens glued by the kinsoku rules: closing punctuation joins the unit before it, opening
    punctuation the unit after it."""
    units: list[str] = []
    glue_next = False
    for token in _tokens(text):
        if token == " ":
            units.append(token)
            glue_next = False
            continue
        if units and units[-1] != " " and (glue_next or token[0] in NO_LINE_START):
            units[-1] += token
        else:
            units.append(token)
        glue_next = token[-1] in NO_LINE_END
    return units


def _split_long(unit: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """A single word wider than the line (a long URL) is cut where it must be."""
    pieces, current = [], ""
    for char in unit:
        if current and font.getlength(current + char) > width:
            pieces.append(current)
            current = char
        else:
            current += char
    return [*pieces, current] if current else pieces


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Lines of `text` no wider than `width` pixels: CJK breaks between characters, Latin between
    words, and no line starts with a closing mark or ends with an opening one."""
    lines: list[str] = []
    line = ""
    for unit in _units(text):
        candidate = line + unit
        if font.getlength(candidate.rstrip()) <= width:
            line = candidate
            continue
        if unit == " ":
            lines.append(line.rstrip())
            line = ""
            continue
        if line.strip():
            lines.append(line.rstrip())
        if font.getlength(unit) > width:
            *full, line = _split_long(unit, font, width)
            lines.extend(full)
        else:
            line = unit
    if line.strip():
        lines.append(line.rstrip())
    return lines


def clamp(lines: list[str], limit: int, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """At most `limit` lines; a cut text ends with an ellipsis that fits."""
    if len(lines) <= limit:
        return lines
    last = lines[limit - 1]
    while last and font.getlength(last + "…") > width:
        last = last[:-1]
    return [*lines[: limit - 1], last.rstrip() + "…"]


def fit(text: str, font: ImageFont.FreeTypeFont, *, limit: int, width: int) -> list[str]:
    """`text` wrapped to `width` pixels in at most `limit` lines."""
    return clamp(wrap(text, font, width), limit, font, width)


def _gradient() -> Image.Image:
    top = Image.new("RGB", (WIDTH, HEIGHT), TOP)
    bottom = Image.new("RGB", (WIDTH, HEIGHT), BOTTOM)
    mask = Image.linear_gradient("L").resize((WIDTH, HEIGHT))
    return Image.composite(bottom, top, mask)


def qr_image(url: str, size: int) -> Image.Image:
    """The QR code of `url` (error correction M, 4-module quiet zone) scaled to `size` pixels
    with whole pixels per module, centred on white."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, box_size=1)
    qr.add_data(url)
    qr.make(fit=True)
    matrix = qr.get_matrix()  # includes the quiet zone
    modules = len(matrix)
    scale = max(size // modules, 1)
    small = Image.new("1", (modules, modules), 1)
    small.putdata([0 if dark else 1 for row in matrix for dark in row])
    code = small.resize((modules * scale, modules * scale), Image.Resampling.NEAREST)
    canvas = Image.new("RGB", (size, size), "white")
    offset = (size - modules * scale) // 2
    canvas.paste(code.convert("RGB"), (offset, offset))
    return canvas


def _draw_lines(
    draw: ImageDraw.ImageDraw,
    lines: list[str],
    *,
    top: int,
    font: ImageFont.FreeTypeFont,
    fill: str,
    line_height: int,
    centre: bool = False,
) -> int:
    y = top
    for line in lines:
        x = (WIDTH - font.getlength(line)) / 2 if centre else MARGIN
        draw.text((x, y), line, font=font, fill=fill)
        y += line_height
    return y


def render_poster(
    *, title: str, subtitle: str | None, nickname: str, url: str, locale: str
) -> bytes:
    """The poster as PNG bytes (WIDTH × HEIGHT)."""
    with use_locale(locale):
        # A nickname of emoji only has nothing the font can draw: say "a friend" instead.
        name = drawable(nickname).strip() or _("A friend")
        invite = _("{name} invites you to take part").format(name=name)
        scan = _("Scan the QR code to take part")
    width = WIDTH - 2 * MARGIN
    invite_font = _font(INVITE_SIZE, bold=False)
    title_font = _font(TITLE_SIZE, bold=True)
    sub_font = _font(SUBTITLE_SIZE, bold=False)
    invite_lines = fit(drawable(invite), invite_font, limit=2, width=width)
    title_lines = fit(drawable(title, bold=True), title_font, limit=TITLE_LINES, width=width)
    sub_lines = fit(drawable(subtitle or ""), sub_font, limit=SUBTITLE_LINES, width=width)
    invite_step, title_step, sub_step = (
        int(INVITE_SIZE * 1.5),
        int(TITLE_SIZE * 1.3),
        int(SUBTITLE_SIZE * 1.55),
    )
    # The text block sits in the middle of the space above the card (never above y=120).
    title_gap, sub_gap = 84, 36  # the short white rule sits in the title gap
    height = len(invite_lines) * invite_step + title_gap + len(title_lines) * title_step
    if sub_lines:
        height += sub_gap + len(sub_lines) * sub_step
    y = max(120, (CARD[1] - height) // 2)

    image = _gradient()
    draw = ImageDraw.Draw(image)
    y = _draw_lines(
        draw, invite_lines, top=y, font=invite_font, fill="#ffe3e8", line_height=invite_step
    )
    draw.line((MARGIN, y + 24, MARGIN + 96, y + 24), fill="white", width=6)
    y = _draw_lines(
        draw,
        title_lines,
        top=y + title_gap,
        font=title_font,
        fill="white",
        line_height=title_step,
    )
    if sub_lines:
        _draw_lines(
            draw, sub_lines, top=y + sub_gap, font=sub_font, fill="#ffd6dd", line_height=sub_step
        )

    draw.rounded_rectangle(CARD, radius=36, fill="white")
    image.paste(qr_image(url, QR_SIZE), QR_AREA[:2])
    scan_font = _font(40, bold=True)
    _draw_lines(
        draw,
        fit(drawable(scan), scan_font, limit=1, width=width - 80),
        top=QR_AREA[3] + 40,
        font=scan_font,
        fill=INK,
        line_height=56,
        centre=True,
    )
    url_font = _font(28, bold=False)
    _draw_lines(
        draw,
        fit(url, url_font, limit=1, width=width - 80),
        top=QR_AREA[3] + 108,
        font=url_font,
        fill=MUTED,
        line_height=40,
        centre=True,
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
