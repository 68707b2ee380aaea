"""The demo's UGC pictures write their caption band with the bundled Noto Sans SC: every
character has a glyph (no "#□□□□#" on a server without CJK fonts), and the band is what that
font draws, whatever fonts the machine has."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageChops, ImageDraw, ImageFont

from im2 import fonts
from im2.activities.formats.ugc.demo import draw_picture

LABEL = "#山野春日# 07"


def test_the_caption_band_is_drawn_in_the_bundled_font() -> None:
    assert fonts.missing_characters(LABEL, bold=True) == []
    picture = Image.open(io.BytesIO(draw_picture(random.Random(1), (249, 168, 212), LABEL)))
    band = picture.convert("L").crop((0, 630, 720, 720))

    expected = Image.new("RGB", (720, 90), (30, 30, 40))
    ImageDraw.Draw(expected).text(
        (28, 18), LABEL, font=ImageFont.truetype(str(fonts.BOLD), 44), fill=(255, 255, 255)
    )
    difference = ImageChops.difference(band, expected.convert("L"))
    # JPEG blurs edges a little; a different font (or boxes for missing glyphs) differs a lot.
    changed = sum(1 for value in difference.get_flattened_data() if value > 80)
    assert changed < 200, changed
    # And the band holds text at all: hundreds of light pixels of glyphs.
    assert sum(1 for value in band.get_flattened_data() if value > 200) > 1500
