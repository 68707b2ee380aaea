"""The web side of a submission, shared by the form page and the JSON API: read the upload
with a size cap, clean it, write it only once every check has passed, and delete it again if
the transaction does not commit."""

from __future__ import annotations

from datetime import datetime

from im2.activities.formats.ugc import service
from im2.activities.formats.ugc.live import refresh_on_commit
from im2.activities.formats.ugc.media import MAX_UPLOAD_BYTES, ImageStore, clean_image
from im2.activities.formats.ugc.schemas import SubmitReceipt
from im2.config import Settings
from im2.db import Database
from im2.live.hub import Hub
from im2.participation.schemas import Visitor


def read_capped(file: object) -> bytes | None:
    """At most one byte over the limit (enough to know it is too large), or None when the
    form had no file; works with Starlette's and FastAPI's UploadFile alike."""
    raw = getattr(file, "file", None)
    if raw is None:
        return None
    data: bytes = raw.read(MAX_UPLOAD_BYTES + 1)
    if not data and not getattr(file, "filename", None):
        return None  # an empty file input: the browser sends a part with no name and no bytes
    return data


def close_uploads(form: object) -> None:
    """Close the spooled files of a form parsed by hand (Starlette leaves them open)."""
    for _name, value in getattr(form, "multi_items", list)():
        raw = getattr(value, "file", None)
        if raw is not None:
            raw.close()


def submit_entry(
    *,
    db: Database,
    hub: Hub,
    settings: Settings,
    slug: str,
    activity_id: int,
    visitor: Visitor,
    caption: str,
    nickname: str,
    video_url: str,
    upload: bytes | None,
    consented: bool,
    seconds_on_page: float | None,
    now: datetime,
) -> SubmitReceipt:
    image = clean_image(upload) if upload is not None else None
    # Decode and score before the write transaction, which then stays short.
    negative = service.sounds_negative(caption)
    with (
        ImageStore(settings.media_path, activity_id=activity_id) as store,
        db.transaction() as session,
    ):
        receipt = service.do_submit(
            session,
            slug=slug,
            activity_id=activity_id,
            visitor=visitor,
            caption=caption,
            nickname=nickname,
            image=image,
            video_url=video_url,
            store=store.save,
            negative=negative,
            consented=consented,
            seconds_on_page=seconds_on_page,
            risk_threshold=settings.risk_hold_threshold,
            identities_per_ip_hour=settings.risk_identities_per_ip_hour,
            now=now,
        )
        refresh_on_commit(session, db=db, hub=hub, activity_id=activity_id)
    return receipt
