"""The bundled CJK font (a subset of Noto Sans SC, SIL OFL 1.1) and where it lives.

Server-side rendering (share posters, report charts, report PDFs) uses these files and never
the system's fonts, so output looks the same on every machine. The files are built by
`scripts/subset_font.py`; `im2/assets/fonts/README.md` says what they contain.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont  # type: ignore[import-untyped, unused-ignore]

FONT_DIR = Path(__file__).resolve().parent / "assets" / "fonts"
REGULAR = FONT_DIR / "NotoSansSC-Regular.ttf"
BOLD = FONT_DIR / "NotoSansSC-Bold.ttf"
LICENSE = FONT_DIR / "LICENSE-OFL.txt"
FAMILY = "Noto Sans SC"


@lru_cache(maxsize=2)
def _codepoints(path: Path) -> frozenset[int]:
    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap())


def missing_characters(text: str, *, bold: bool = False) -> list[str]:
    """The distinct characters of `text` the bundled font has no glyph for, in order.

    Whitespace and control characters are not reported (nothing is drawn for them).
    """
    points = _codepoints(BOLD if bold else REGULAR)
    missing: list[str] = []
    for char in text:
        if char.isspace() or not char.isprintable():
            continue
        if ord(char) not in points and char not in missing:
            missing.append(char)
    return missing
