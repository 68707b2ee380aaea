"""Participants' images: the type is sniffed from the bytes by Pillow (never the file name or
the Content-Type), size and pixel count are bounded, and every accepted image is decoded and
re-encoded from its pixels alone, so EXIF (GPS included), XMP, comments and anything appended
to the file are gone. Video entries are links to known hosts, checked here too."""

from __future__ import annotations

import io
import re
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image, ImageOps, UnidentifiedImageError

from im2.errors import InvalidInput
from im2.i18n import _

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
MAX_SOURCE_PIXELS = 40_000_000  # a decompression bomb is refused before it is decoded
MAX_SIDE = 2048  # what a phone screen or a jury needs; larger photos are scaled down
# Pillow format → (format to write, file extension, media type)
ACCEPTED = {
    "JPEG": ("JPEG", "jpg", "image/jpeg"),
    "PNG": ("PNG", "png", "image/png"),
    "WEBP": ("WEBP", "webp", "image/webp"),
}
MEDIA_TYPES = {ext: media for _fmt, ext, media in ACCEPTED.values()}
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}\.(jpg|png|webp)$")

VIDEO_HOSTS = (
    "douyin.com",
    "iesdouyin.com",
    "bilibili.com",
    "b23.tv",
    "weibo.com",
    "weibo.cn",
    "xiaohongshu.com",
    "xhslink.com",
    "kuaishou.com",
    "ixigua.com",
    "v.qq.com",
    "youtube.com",
    "youtu.be",
    "vimeo.com",
)


@dataclass(frozen=True, slots=True)
class CleanImage:
    data: bytes
    extension: str
    media_type: str
    width: int
    height: int


def clean_image(data: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES) -> CleanImage:
    """Check an upload and return it re-encoded without metadata; raises InvalidInput with a
    message for the participant when it is too large, not an image, or of another type."""
    if not data:
        raise InvalidInput(_("Choose a photo to upload."), field="image")
    if len(data) > max_bytes:
        raise InvalidInput(
            _("The photo is too large; the limit is {n} MB.").format(n=max_bytes // (1024 * 1024)),
            field="image",
        )
    try:
        with warnings.catch_warnings():
            # Pillow only warns about a huge (bomb-like) header below twice its own limit.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format or ""
                width, height = probe.size
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InvalidInput(_("The photo has too many pixels."), field="image") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise InvalidInput(_("This file is not an image we can read."), field="image") from None
    if kind not in ACCEPTED:
        raise InvalidInput(_("Only JPEG, PNG and WebP photos are accepted."), field="image")
    if width * height > MAX_SOURCE_PIXELS:
        raise InvalidInput(_("The photo has too many pixels."), field="image")
    try:
        with Image.open(io.BytesIO(data)) as source:
            if source.format == "JPEG":
                # Decode a large photo straight at a reduced scale (still at least MAX_SIDE):
                # a fraction of the memory and time of decoding it whole and shrinking after.
                source.draft("RGB", (MAX_SIDE, MAX_SIDE))
            source.load()
            # Honour the camera's orientation before the EXIF that carries it is dropped.
            image = ImageOps.exif_transpose(source)
    except (OSError, ValueError, Image.DecompressionBombError):
        raise InvalidInput(_("This file is not an image we can read."), field="image") from None
    fmt, extension, media_type = ACCEPTED[kind]
    image = _pixels_only(image, fmt)
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=82, method=4)
    else:
        image.save(out, "PNG", optimize=True)
    return CleanImage(
        data=out.getvalue(),
        extension=extension,
        media_type=media_type,
        width=image.width,
        height=image.height,
    )


def _pixels_only(image: Image.Image, fmt: str) -> Image.Image:
    """A new image holding only the pixels: no info dict, no EXIF, no ICC, no text chunks."""
    keep_alpha = fmt in ("PNG", "WEBP") and (
        image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    )
    mode = "RGBA" if keep_alpha else "RGB"
    converted = image.convert(mode)
    clean = Image.new(mode, converted.size)
    clean.paste(converted)
    return clean


def store_image(root: Path, *, activity_id: int, image: CleanImage) -> str:
    """Write the image under a random name; returns the name (relative to the activity)."""
    folder = root / "ugc" / str(activity_id)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_urlsafe(18)}.{image.extension}"
    path = folder / name
    # Written to a temporary name first, so that a half-written file is never served.
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_bytes(image.data)
    partial.replace(path)
    return name


def image_path(root: Path, *, activity_id: int, name: str) -> Path | None:
    """The file of a stored image, or None for a name that is not one of ours."""
    if not NAME_PATTERN.match(name):
        return None
    path = root / "ugc" / str(activity_id) / name
    return path if path.is_file() else None


def delete_image(root: Path, *, activity_id: int, name: str) -> None:
    path = image_path(root, activity_id=activity_id, name=name)
    if path is not None:
        path.unlink(missing_ok=True)


def check_video_url(raw: str) -> tuple[str, str]:
    """A video link as (url, host family); only http(s) links to known video sites."""
    url = raw.strip()
    error = InvalidInput(
        _("Paste a link to a video on Douyin, Bilibili, Weibo, Xiaohongshu, Kuaishou or YouTube."),
        field="video_url",
    )
    if not url or len(url) > 500 or any(c.isspace() for c in url):
        raise error
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        raise error from None
    if parts.scheme not in ("http", "https") or parts.username or parts.password:
        raise error
    if port not in (None, 80, 443):
        raise error
    for known in VIDEO_HOSTS:
        if host == known or host.endswith("." + known):
            return url, known
    raise error


class ImageStore:
    """Files written during one submission, deleted again unless the block exits cleanly:
    enter it outside the database transaction, so that a failed commit leaves no orphan file.

        with ImageStore(root, activity_id=…) as store, db.transaction() as session:
            service.do_submit(…, store=store.save)
    """

    def __init__(self, root: Path, *, activity_id: int) -> None:
        self.root = root
        self.activity_id = activity_id
        self.saved: list[str] = []

    def save(self, image: CleanImage) -> str:
        name = store_image(self.root, activity_id=self.activity_id, image=image)
        self.saved.append(name)
        return name

    def __enter__(self) -> ImageStore:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            for name in self.saved:
                delete_image(self.root, activity_id=self.activity_id, name=name)
