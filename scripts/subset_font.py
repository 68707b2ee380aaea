"""Rebuild the bundled CJK font in ``im2/assets/fonts/`` from the npm package.

The product renders Chinese server-side (share posters with Pillow, report charts with
matplotlib, report PDFs with WeasyPrint) and may not download anything at run time, so it
ships a subset of Noto Sans SC (SIL Open Font License 1.1). The full fonts are ~10 MB per
weight; the subset keeps what Chinese marketing copy needs:

* ASCII, Latin-1 Supplement, Latin Extended-A (names, prices, URLs)
* General Punctuation, currency, letterlike symbols, arrows, number forms, a few shapes
* CJK Symbols and Punctuation, fullwidth and halfwidth forms
* every character of GB 2312 (its 6,763 hanzi plus its symbol rows: Greek, Cyrillic,
  pinyin, bopomofo, box drawing, circled/parenthesised numbers, kana)

Usage (build time only, needs the npm client and network access to the npm registry)::

    .venv/bin/python scripts/subset_font.py            # downloads the package with npm pack
    .venv/bin/python scripts/subset_font.py --package-dir /tmp/x/package   # already unpacked

The output is deterministic for a given package version: the script pins the version,
checks the tarball's SHA-512 integrity, and fontTools writes the same bytes for the same
input and options.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from fontTools import subset  # type: ignore[import-untyped, unused-ignore]
from fontTools.ttLib import TTFont  # type: ignore[import-untyped, unused-ignore]

PACKAGE = "@expo-google-fonts/noto-sans-sc"
VERSION = "0.4.3"
# `npm view @expo-google-fonts/noto-sans-sc@0.4.3 dist.integrity`
INTEGRITY = (
    "sha512-9rAwdFTFHbO/u6Cs0gj2jZbW74TGIiaFNQnXYH2s5wA1bzVkwbaviL4t8YUV642eGYjg86eH6"
    "DkAEQmfNHDncQ=="
)
WEIGHTS = {
    "NotoSansSC-Regular.ttf": "400Regular/NotoSansSC_400Regular.ttf",
    "NotoSansSC-Bold.ttf": "700Bold/NotoSansSC_700Bold.ttf",
}
OUT_DIR = Path(__file__).resolve().parent.parent / "im2" / "assets" / "fonts"

RANGES: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1 Supplement
    (0x0100, 0x017F),  # Latin Extended-A
    (0x02C6, 0x02DD),  # spacing modifier letters used as accents
    (0x2000, 0x206F),  # General Punctuation
    (0x20A0, 0x20BF),  # Currency Symbols
    (0x2100, 0x214F),  # Letterlike Symbols (℃ № ™)
    (0x2150, 0x218F),  # Number Forms (Ⅰ Ⅱ ⅰ)
    (0x2190, 0x21FF),  # Arrows
    (0x2460, 0x24FF),  # Enclosed Alphanumerics (① ⑴ ⒈)
    (0x25A0, 0x25FF),  # Geometric Shapes (■ □ ▲ ○ ●)
    (0x2600, 0x2609),  # ★ ☆
    (0x3000, 0x303F),  # CJK Symbols and Punctuation
    (0xFE30, 0xFE4F),  # CJK Compatibility Forms (vertical punctuation)
    (0xFF00, 0xFFEF),  # Halfwidth and Fullwidth Forms
)


def gb2312_characters() -> set[int]:
    """Every character GB 2312 encodes (rows 1-9 symbols, rows 16-87 hanzi)."""
    chars: set[int] = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                text = bytes((high, low)).decode("gb2312")
            except UnicodeDecodeError:
                continue
            chars.update(ord(c) for c in text)
    return chars


def wanted_codepoints() -> set[int]:
    points = gb2312_characters()
    for first, last in RANGES:
        points.update(range(first, last + 1))
    return points


def fetch_package(workdir: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm is required to fetch the font package (or pass --package-dir)")
    subprocess.run(  # noqa: S603 - fixed arguments, build-time tool
        [npm, "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=workdir, check=True
    )
    tarballs = list(workdir.glob("*.tgz"))
    if len(tarballs) != 1:
        sys.exit(f"npm pack produced {len(tarballs)} tarballs in {workdir}")
    algorithm, expected = INTEGRITY.split("-", 1)
    digest = base64.b64encode(hashlib.new(algorithm, tarballs[0].read_bytes()).digest())
    if digest.decode() != expected:
        sys.exit(f"integrity mismatch for {tarballs[0].name}: got {algorithm}-{digest.decode()}")
    with tarfile.open(tarballs[0]) as tar:
        tar.extractall(workdir, filter="data")
    return workdir / "package"


def subset_font(source: Path, target: Path, codepoints: set[int]) -> tuple[int, int]:
    options = subset.Options()
    options.layout_features = ["*"]  # keep kerning, vert, locl, fwid/hwid, ...
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.glyph_names = False
    options.hinting = False  # the product rasterises at large sizes; hints are ~20% of size
    options.recalc_timestamp = False
    font = TTFont(source, recalcTimestamp=False)
    available = set(font.getBestCmap())
    keep = codepoints & available
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(keep))
    subsetter.subset(font)
    font.save(target)
    return len(keep), len(codepoints - available)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--package-dir", type=Path, help="an unpacked npm package directory")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    codepoints = wanted_codepoints()
    with tempfile.TemporaryDirectory() as tmp:
        package_dir = args.package_dir or fetch_package(Path(tmp))
        license_text = (package_dir / "LICENSE_FONT").read_text(encoding="utf-8")
        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / "LICENSE-OFL.txt").write_text(license_text, encoding="utf-8")
        for target_name, source_name in WEIGHTS.items():
            target = args.out_dir / target_name
            kept, missing = subset_font(package_dir / source_name, target, codepoints)
            print(
                f"{target_name}: {kept} characters kept, {missing} wanted but not in the font, "
                f"{target.stat().st_size / 1_000_000:.2f} MB"
            )


if __name__ == "__main__":
    main()
