"""A workspace's brand on the public pages: name, logo, cover image and two colours, overridable
per campaign, with the colours checked for contrast (WCAG 2.x, at least 4.5:1 for text).

The primary colour is the background of buttons and of the brand bar; the text on it is white
when white reaches 4.5:1, else dark (the brand is told). The accent colour is the colour of
links on the page's light background, so it must reach 4.5:1 against it; a colour that cannot
is refused with a darker shade of it that would pass.

Callers own the transaction; nothing here commits. Image files are written before the
transaction (`BrandFiles`) and the replaced ones deleted after its commit.
"""

from __future__ import annotations

import io
import re
import secrets
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.errors import InvalidInput
from im2.i18n import _
from im2.workspaces._common import require
from im2.workspaces.audit import record_audit
from im2.workspaces.brand.models import Brand
from im2.workspaces.models import Workspace
from im2.workspaces.schemas import Actor, Permission

MIN_CONTRAST = 4.5  # WCAG 2.x success criterion 1.4.3 (AA) for normal text
WHITE = "#ffffff"
DARK_TEXT = "#1d2330"  # the pages' own text colour (im2.css --fg)
PAGE_BACKGROUND = "#fff7f3"  # im2.css body.public: links sit on it and on white cards
MAX_NAME = 80
MAX_IMAGE_BYTES = 2 * 1024 * 1024
MAX_SOURCE_PIXELS = 40_000_000  # a decompression bomb is refused before it is decoded
LOGO_SIDE = 512  # the bar shows it 32 px high; 512 keeps it sharp on any screen
COVER_SIDE = 1600
ACCEPTED = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
}
MEDIA_TYPES = dict(ACCEPTED.values())
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}\.(jpg|png|webp)$")
HEX = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


# --- contrast (WCAG 2.x definitions of relative luminance and contrast ratio) ---------------


def parse_color(text: str, *, field: str) -> str:
    """ "#RGB", "#RRGGBB" (the # optional, any case) as "#rrggbb"; InvalidInput otherwise."""
    match = HEX.match(text.strip())
    if match is None:
        raise InvalidInput(
            _("Enter the colour as a hex code such as #c8102e."),
            field=field,
        )
    digits = match.group(1).lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return "#" + digits


def _channels(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def relative_luminance(color: str) -> float:
    """WCAG 2.x relative luminance of an sRGB colour "#rrggbb" (0 black … 1 white)."""

    def linear(value: int) -> float:
        c = value / 255
        # WCAG 2.0 wrote 0.03928 for the sRGB break point; 0.04045 (sRGB's own) gives the same
        # result for every 8-bit value.
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(v) for v in _channels(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    """(L1 + 0.05) / (L2 + 0.05), L1 the lighter: 1 (none) … 21 (black on white)."""
    la, lb = relative_luminance(a), relative_luminance(b)
    light, dark = max(la, lb), min(la, lb)
    return (light + 0.05) / (dark + 0.05)


def darker_passing(color: str, against: str) -> str:
    """The lightest shade of `color` (its channels scaled toward black) that reaches
    MIN_CONTRAST against the light colour `against`."""
    r, g, b = _channels(color)
    for step in range(100, -1, -1):
        factor = step / 100
        shade = "#{:02x}{:02x}{:02x}".format(*(round(v * factor) for v in (r, g, b)))
        if contrast_ratio(shade, against) >= MIN_CONTRAST:
            return shade
    return "#000000"


def text_on(color: str) -> str | None:
    """The text colour for `color` as a background: white if it reaches MIN_CONTRAST, else the
    dark text colour if that does, else None (a mid-tone that neither reads on)."""
    if contrast_ratio(WHITE, color) >= MIN_CONTRAST:
        return WHITE
    if contrast_ratio(DARK_TEXT, color) >= MIN_CONTRAST:
        return DARK_TEXT
    return None


def format_ratio(value: float) -> str:
    return f"{int(value * 10) / 10:.1f}:1"  # rounded down: 4.47 must not print as 4.5


# --- shapes -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BrandRead:
    """What is stored for a workspace (campaign_id None) or one campaign; None: not set here."""

    workspace_id: int
    campaign_id: int | None
    name: str | None = None
    logo: str | None = None
    cover: str | None = None
    primary_color: str | None = None
    accent_color: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BrandView:
    """The brand as a public page shows it (the campaign's settings over the workspace's)."""

    workspace_id: int
    name: str
    logo_url: str | None
    cover_url: str | None
    primary: str | None  # None: IM2's own colours
    primary_text: str | None
    accent: str | None

    def css(self) -> str:
        """The CSS variables the pages' stylesheet reads (im2.css :root), or ""."""
        rules = []
        if self.primary and self.primary_text:
            rules += [f"--accent:{self.primary}", f"--accent-fg:{self.primary_text}"]
            rules += [f"--brand-bar:{self.primary}", f"--brand-bar-fg:{self.primary_text}"]
        if self.accent:
            rules.append(f"--info:{self.accent}")
        return ":root{" + ";".join(rules) + "}" if rules else ""


@dataclass(frozen=True, slots=True)
class CleanImage:
    data: bytes
    extension: str


@dataclass(slots=True)
class BrandChanges:
    """A brand form as posted. Texts: "" clears the field (a campaign then uses the
    workspace's); None leaves it as it is. Images: a new one, or remove_* to clear it."""

    name: str | None = None
    primary_color: str | None = None
    accent_color: str | None = None
    logo: CleanImage | None = None
    cover: CleanImage | None = None
    remove_logo: bool = False
    remove_cover: bool = False


class BrandInvalid(InvalidInput):
    """Every problem of a brand form at once (`errors`: field → message)."""

    def __init__(self, errors: dict[str, str]) -> None:
        first = next(iter(errors))
        super().__init__(errors[first], field=first)
        self.errors = errors


@dataclass(frozen=True, slots=True)
class BrandSaved:
    brand: BrandRead
    notices: list[str] = field(default_factory=list)  # what was adjusted, for the user
    replaced: list[str] = field(default_factory=list)  # image files to delete after commit


# --- images -------------------------------------------------------------------------------


def clean_brand_image(data: bytes, *, field: str) -> CleanImage:
    """A logo or cover upload, checked by its bytes (never its name or declared type), bounded
    in size and pixels, and re-encoded from its pixels alone (no EXIF, no appended data)."""
    side = LOGO_SIDE if field == "logo" else COVER_SIDE
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidInput(
            _("The image is too large; the limit is {n} MB.").format(
                n=MAX_IMAGE_BYTES // (1024 * 1024)
            ),
            field=field,
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format or ""
                width, height = probe.size
            if kind not in ACCEPTED:
                raise InvalidInput(_("Only JPEG, PNG and WebP images are accepted."), field=field)
            if width * height > MAX_SOURCE_PIXELS:
                raise InvalidInput(_("The image has too many pixels."), field=field)
            with Image.open(io.BytesIO(data)) as source:
                source.load()
                image = ImageOps.exif_transpose(source)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InvalidInput(_("The image has too many pixels."), field=field) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise InvalidInput(_("This file is not an image we can read."), field=field) from None
    keep_alpha = kind in ("PNG", "WEBP") and (
        image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    )
    mode = "RGBA" if keep_alpha else "RGB"
    converted = image.convert(mode)
    pixels = Image.new(mode, converted.size)
    pixels.paste(converted)
    pixels.thumbnail((side, side))
    extension = ACCEPTED[kind][0]
    out = io.BytesIO()
    if kind == "JPEG":
        pixels.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    elif kind == "WEBP":
        pixels.save(out, "WEBP", quality=85, method=4)
    else:
        pixels.save(out, "PNG", optimize=True)
    return CleanImage(data=out.getvalue(), extension=extension)


def brand_folder(root: Path, workspace_id: int) -> Path:
    return root / "brand" / str(workspace_id)


def brand_image_path(root: Path, *, workspace_id: int, name: str) -> Path | None:
    """The file of a stored brand image, or None for a name that is not one of ours."""
    if not NAME_PATTERN.match(name):
        return None
    path = brand_folder(root, workspace_id) / name
    return path if path.is_file() else None


def brand_image_url(workspace_id: int, name: str | None) -> str | None:
    return None if not name else f"/media/brand/{workspace_id}/{name}"


def delete_brand_images(root: Path, *, workspace_id: int, names: list[str]) -> None:
    for name in names:
        path = brand_image_path(root, workspace_id=workspace_id, name=name)
        if path is not None:
            path.unlink(missing_ok=True)


class BrandFiles:
    """Images written for one save, deleted again unless the block exits cleanly: enter it
    outside the database transaction, so that a failed commit leaves no orphan file."""

    def __init__(self, root: Path, *, workspace_id: int) -> None:
        self.root = root
        self.workspace_id = workspace_id
        self.saved: list[str] = []

    def save(self, image: CleanImage) -> str:
        folder = brand_folder(self.root, self.workspace_id)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{secrets.token_urlsafe(18)}.{image.extension}"
        partial = folder / (name + ".partial")  # a half-written file is never served
        partial.write_bytes(image.data)
        partial.replace(folder / name)
        self.saved.append(name)
        return name

    def __enter__(self) -> BrandFiles:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            delete_brand_images(self.root, workspace_id=self.workspace_id, names=self.saved)


# --- reading ------------------------------------------------------------------------------


def _read(row: Brand | None, *, workspace_id: int, campaign_id: int | None) -> BrandRead:
    if row is None:
        return BrandRead(workspace_id=workspace_id, campaign_id=campaign_id)
    return BrandRead(
        workspace_id=row.workspace_id,
        campaign_id=row.campaign_id,
        name=row.name,
        logo=row.logo,
        cover=row.cover,
        primary_color=row.primary_color,
        accent_color=row.accent_color,
        updated_at=row.updated_at,
    )


def _row(session: Session, *, workspace_id: int, campaign_id: int | None) -> Brand | None:
    return session.scalar(
        select(Brand).where(Brand.workspace_id == workspace_id, Brand.scope == (campaign_id or 0))
    )


def get_brand(session: Session, *, actor: Actor, campaign_id: int | None = None) -> BrandRead:
    """The brand settings stored for the actor's workspace, or for one of its campaigns (the
    caller has checked that the campaign is the workspace's)."""
    require(actor, Permission.READ_CAMPAIGNS)
    row = _row(session, workspace_id=actor.workspace_id, campaign_id=campaign_id)
    return _read(row, workspace_id=actor.workspace_id, campaign_id=campaign_id)


def resolve_brand(session: Session, *, workspace_id: int, campaign_id: int | None) -> BrandView:
    """The brand a public page shows: the campaign's settings over the workspace's, the
    workspace's name when no brand name is set, IM2's colours when no colour is."""
    rows = session.scalars(
        select(Brand).where(
            Brand.workspace_id == workspace_id, Brand.scope.in_([0, campaign_id or 0])
        )
    ).all()
    layers = sorted(rows, key=lambda r: r.scope)  # the workspace's first, the campaign's over it

    def pick(attribute: str) -> Any:
        value = None
        for row in layers:
            value = getattr(row, attribute) or value
        return value

    name = pick("name") or session.scalar(
        select(Workspace.name).where(Workspace.id == workspace_id)
    )
    primary = pick("primary_color")
    return BrandView(
        workspace_id=workspace_id,
        name=name or "",
        logo_url=brand_image_url(workspace_id, pick("logo")),
        cover_url=brand_image_url(workspace_id, pick("cover")),
        primary=primary,
        primary_text=text_on(primary) if primary else None,
        accent=pick("accent_color"),
    )


class BrandCache:
    """Resolved brands by key (a campaign's slug) for `ttl` seconds: the public pages ask on
    every view. A save clears it in this process; other processes see it within `ttl`."""

    def __init__(self, ttl: float = 30.0, size: int = 2048) -> None:
        self.ttl = ttl
        self.size = size
        self._items: dict[str, tuple[float, BrandView | None]] = {}

    def get(self, key: str) -> tuple[bool, BrandView | None]:
        hit = self._items.get(key)
        if hit is None or hit[0] < time.monotonic():
            return False, None
        return True, hit[1]

    def put(self, key: str, value: BrandView | None) -> None:
        if len(self._items) >= self.size:
            self._items.clear()
        self._items[key] = (time.monotonic() + self.ttl, value)

    def clear(self) -> None:
        self._items.clear()


BRANDS = BrandCache()


# --- writing ------------------------------------------------------------------------------


def check_colors(changes: BrandChanges) -> tuple[dict[str, str], list[str]]:
    """Normalise the posted colours in place; returns (errors by field, notices)."""
    errors: dict[str, str] = {}
    notices: list[str] = []
    if changes.primary_color:
        try:
            primary = parse_color(changes.primary_color, field="primary_color")
        except InvalidInput as error:
            errors["primary_color"] = error.message
        else:
            changes.primary_color = primary
            text = text_on(primary)
            white = contrast_ratio(WHITE, primary)
            if text is None:
                errors["primary_color"] = _(
                    "Text on {color} reaches only {ratio} in contrast (at least 4.5:1 is "
                    "needed to be readable); a darker shade such as {shade} works."
                ).format(
                    color=primary, ratio=format_ratio(white), shade=darker_passing(primary, WHITE)
                )
            elif text == DARK_TEXT:
                notices.append(
                    _(
                        "White text on {color} reaches only {ratio} in contrast, so buttons "
                        "and the brand bar use dark text on it."
                    ).format(color=primary, ratio=format_ratio(white))
                )
    if changes.accent_color:
        try:
            accent = parse_color(changes.accent_color, field="accent_color")
        except InvalidInput as error:
            errors["accent_color"] = error.message
        else:
            changes.accent_color = accent
            ratio = contrast_ratio(accent, PAGE_BACKGROUND)
            if ratio < MIN_CONTRAST:
                errors["accent_color"] = _(
                    "Links in {color} on the page's light background reach only {ratio} in "
                    "contrast (at least 4.5:1 is needed); a darker shade such as {shade} works."
                ).format(
                    color=accent,
                    ratio=format_ratio(ratio),
                    shade=darker_passing(accent, PAGE_BACKGROUND),
                )
    return errors, notices


def check_brand(changes: BrandChanges) -> list[str]:
    """Validate and normalise a brand form; raises BrandInvalid with every problem, returns the
    notices (what was adjusted)."""
    errors, notices = check_colors(changes)
    if changes.name is not None:
        changes.name = " ".join(changes.name.split())
        if len(changes.name) > MAX_NAME:
            errors["name"] = _("Keep the brand name to {n} characters.").format(n=MAX_NAME)
        elif any(ord(c) < 32 for c in changes.name):
            errors["name"] = _("The brand name holds characters that cannot be shown.")
    if errors:
        raise BrandInvalid(errors)
    return notices


def do_set_brand(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int | None,
    changes: BrandChanges,
    logo_name: str | None,
    cover_name: str | None,
    now: datetime,
) -> BrandSaved:
    """Save the workspace's brand (campaign_id None) or a campaign's override (the caller has
    checked that the campaign is the workspace's). `logo_name`/`cover_name` are the files of
    `changes.logo`/`changes.cover`, already written (BrandFiles). The files it replaces come
    back in `replaced`: delete them after the commit. Saving the same form twice gives the
    same brand; two first saves at once make one row."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    notices = check_brand(changes)
    workspace_id = actor.workspace_id
    row = _row(session, workspace_id=workspace_id, campaign_id=campaign_id)
    if row is None:
        try:
            with session.begin_nested():
                row = Brand(
                    workspace_id=workspace_id,
                    campaign_id=campaign_id,
                    scope=campaign_id or 0,
                    updated_at=now,
                )
                session.add(row)
                session.flush()
        except IntegrityError:  # the same first save in a concurrent request
            row = _row(session, workspace_id=workspace_id, campaign_id=campaign_id)
            assert row is not None
    before = _audit_view(row)
    replaced: list[str] = []
    if changes.name is not None:
        row.name = changes.name or None
    if changes.primary_color is not None:
        row.primary_color = changes.primary_color or None
    if changes.accent_color is not None:
        row.accent_color = changes.accent_color or None
    for attribute, new_name, remove in (
        ("logo", logo_name, changes.remove_logo),
        ("cover", cover_name, changes.remove_cover),
    ):
        old = getattr(row, attribute)
        if new_name is not None or remove:
            setattr(row, attribute, new_name)
            if old and old != new_name:
                replaced.append(old)
    row.updated_at = now
    after = _audit_view(row)
    if after != before:
        record_audit(
            session,
            actor,
            "brand.update",
            (("campaign" if campaign_id else "workspace"), campaign_id or workspace_id),
            _("Changed the campaign's brand") if campaign_id else _("Changed the brand"),
            now=now,
            before=before,
            after=after,
            workspace_id=workspace_id,
        )
    session.flush()
    return BrandSaved(
        brand=_read(row, workspace_id=workspace_id, campaign_id=campaign_id),
        notices=notices,
        replaced=replaced,
    )


def _audit_view(row: Brand) -> dict[str, Any]:
    return {
        "name": row.name,
        "logo": row.logo,
        "cover": row.cover,
        "primary_color": row.primary_color,
        "accent_color": row.accent_color,
    }
