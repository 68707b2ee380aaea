"""Background work of data-subject requests: building export zips outside the request that
asked for them, and deleting export files once they expire."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from im2.clock import Clock
from im2.config import get_settings
from im2.db import Database
from im2.isolation import each
from im2.privacy import service
from im2.privacy.export import build_export

log = logging.getLogger("im2.privacy")


def build_request_export(
    db: Database, *, request_id: int, now: datetime, lake_path: Path, media_path: Path
) -> bool:
    """Build the zip of an access request in progress and record it (done, in the log and the
    audit log). Idempotent: a request already answered is left alone, and when two builders
    race the second one's file is deleted (`do_attach_export` decides). The zip is built in a
    read session, so no writer waits for it."""
    with db.session() as session:
        target = service.export_target(session, request_id=request_id)
        if target is None:
            return False
        name = service.new_export_name(request_id)
        path = build_export(
            session,
            workspace_id=target.workspace_id,
            person_id=target.person_id,
            now=now,
            lake_path=lake_path,
            media_path=media_path,
            out_dir=media_path,
            name=name,
        )
    try:
        with db.transaction() as session:
            won = service.do_attach_export(
                session, request_id=request_id, name=name, size=path.stat().st_size, now=now
            )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if not won:
        path.unlink(missing_ok=True)
    return won


def build_soon(
    db: Database, *, request_id: int, now: datetime, lake_path: Path, media_path: Path
) -> None:
    """`build_request_export` right after the request that asked for it has been answered: a
    failure is logged and left to `build_exports_job`, which tries again at its next tick."""
    try:
        build_request_export(
            db, request_id=request_id, now=now, lake_path=lake_path, media_path=media_path
        )
    except Exception:
        log.exception("privacy: export of request %s failed; the job will retry", request_id)


def build_exports_job(db: Database, clock: Clock) -> int:
    """Build every export asked for and not made yet (a builder that died after the request,
    a large export left to the job). Returns how many were made."""
    settings = get_settings()
    with db.session() as session:
        pending = service.pending_exports(session)
    outcome = each(
        pending,
        lambda request_id: build_request_export(
            db,
            request_id=request_id,
            now=clock.now(),
            lake_path=settings.lake_path,
            media_path=settings.media_path,
        ),
        job="privacy_build_exports",
    )
    return sum(1 for made in outcome.results if made)


def expire_export(db: Database, *, request_id: int, now: datetime, media_path: Path) -> bool:
    with db.transaction() as session:
        name = service.do_expire_export(session, request_id=request_id, now=now)
    if name is None:
        return False
    (media_path / name).unlink(missing_ok=True)
    return True


def expire_exports(db: Database, *, now: datetime, media_path: Path) -> int:
    """Delete export files past their expiry (7 days by default), and their record on the
    request (the log keeps that it expired). Returns how many were deleted."""
    with db.session() as session:
        expired = service.expired_exports(session, now=now)
    outcome = each(
        expired,
        lambda request_id: expire_export(db, request_id=request_id, now=now, media_path=media_path),
        job="privacy_expire_exports",
    )
    return sum(1 for done in outcome.results if done)


def expire_exports_job(db: Database, clock: Clock) -> int:
    return expire_exports(db, now=clock.now(), media_path=get_settings().media_path)
