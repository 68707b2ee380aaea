"""Mentions in: a batch (API, feeds) or a whole file, imported batch by batch with its report
and resumed after a crash.

Callers own the transaction; nothing here commits, except a file import (`do_import_file`),
which commits batch by batch.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from im2.db import Database
from im2.errors import InvalidInput
from im2.events.schemas import EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.listening.importers import (
    MAX_ROW_ERRORS,
    FileFormat,
    FileProblem,
    decode,
    guess_format,
    read_mentions,
)
from im2.listening.ingest import (
    CompiledTopic,
    MentionWriter,
    Scorer,
    compiled_topics,
    store_mentions,
)
from im2.listening.models import (
    MentionImport,
)
from im2.listening.schemas import (
    ImportRead,
    IngestResult,
    ListeningSettingsRead,
    MentionIn,
    RowError,
)
from im2.listening.workspace_settings import load_settings, mapping_spec, workspace_timezone
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import check_timezone, owned_row, record_audit, require

BATCH: Final = 2000
MAX_FILE_BYTES: Final = 200 * 1024 * 1024


# --- ingest ---------------------------------------------------------------------------------


def _record_imported(
    session: Session, *, actor: Actor, result: IngestResult, source: str, now: datetime
) -> None:
    record_event(
        session,
        kind=EventKind.MENTIONS_IMPORTED,
        occurred_at=now,
        workspace_id=actor.workspace_id,
        actor_type=actor.type,
        actor_id=actor.id,
        channel=source,
        properties={
            "import_id": result.import_id,
            "received": result.received,
            "imported": result.imported,
            "duplicates": result.duplicates,
            "failed": result.failed,
        },
    )


def do_ingest_batch(
    session: Session,
    *,
    actor: Actor,
    mentions: list[MentionIn],
    now: datetime,
    source: str = "api",
    scorer: Scorer | None = None,
) -> IngestResult:
    """Store a batch (API, feeds); idempotent by (platform, post id)."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    settings = load_settings(session, workspace_id=actor.workspace_id)
    batch = store_mentions(
        session,
        workspace_id=actor.workspace_id,
        mentions=mentions,
        settings=settings,
        now=now,
        scorer=scorer,
    )
    result = IngestResult(
        received=len(mentions),
        imported=batch.imported,
        duplicates=batch.duplicates,
        failed=0,
        truncated=batch.truncated,
        errors=[],
    )
    if batch.imported:
        _record_imported(session, actor=actor, result=result, source=source, now=now)
    return result


def do_import_file(
    db: Database,
    *,
    actor: Actor,
    filename: str,
    data: bytes,
    mapping: str,
    now: datetime,
    file_format: FileFormat | None = None,
    timezone: str | None = None,
    scorer: Scorer | None = None,
) -> ImportRead:
    """Import a whole file: good rows are stored, broken ones listed in the report by line.

    A time without an offset is read in `timezone` when given, else in the mapping's zone,
    else in the workspace's (one rule for the console, the API and the command line).

    A file that cannot be used at all (unreadable encoding, missing columns) raises
    InvalidInput before anything is stored.

    Each batch of BATCH rows commits in its own short transaction, together with the import
    record's counts (its progress), so other writers take turns with a long import instead of
    waiting for all of it. The same file (same SHA-256) imported again into a workspace whose
    last import of it did not finish (a crash, a killed server) continues after its last
    committed batch: the rows it counted as read are exactly the rows whose mentions were
    committed with that count, so none is stored twice (and the unique (platform, post id)
    key skips any that were, as for every import).
    """
    require(actor, Permission.WRITE_CAMPAIGNS)
    _check_file(data, timezone=timezone)
    digest = hashlib.sha256(data).hexdigest()
    with db.session() as session:
        spec = mapping_spec(session, workspace_id=actor.workspace_id, key=mapping)
        zone = timezone or spec.timezone or workspace_timezone(session, actor=actor)
    try:
        text, encoding = decode(data)
        fmt = file_format or guess_format(filename, text)
        rows = read_mentions(text, file_format=fmt, spec=spec, now=now, timezone=zone)
    except FileProblem as exc:
        raise InvalidInput(exc.message, field="file") from None
    with db.transaction() as session:
        progress = _open_import(
            session,
            actor=actor,
            filename=filename,
            file_format=fmt,
            mapping=spec.key,
            encoding=encoding,
            digest=digest,
            now=now,
        )
    pending: list[MentionIn] = []
    try:
        # Rows already read by the unfinished import of this file: their batches committed.
        for row in itertools.islice(rows, progress.counts["rows"], None):
            progress.counts["rows"] += 1
            if row.mention is None:
                progress.counts["failed"] += 1
                if len(progress.errors) < MAX_ROW_ERRORS:
                    progress.errors.append(row.error_record())
            else:
                pending.append(row.mention)
                if len(pending) >= BATCH:
                    _commit_batch(db, progress, pending, now=now, scorer=scorer)
        _commit_batch(db, progress, pending, now=now, scorer=scorer)
    except BaseException:
        # Best effort: the committed batches stay, and the same file imported again resumes.
        with contextlib.suppress(Exception), db.transaction() as session:
            session.execute(
                update(MentionImport)
                .where(MentionImport.id == progress.import_id)
                .values(status="failed")
            )
        raise
    with db.transaction() as session:
        return _finish_import(session, actor=actor, filename=filename, progress=progress, now=now)


def _check_file(data: bytes, *, timezone: str | None) -> None:
    if not data:
        raise InvalidInput(_("The file is empty."), field="file")
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(
            _("The file is larger than {n} MB; split it.").format(n=MAX_FILE_BYTES // 2**20),
            field="file",
        )
    if timezone:
        check_timezone(timezone)


@dataclass(slots=True)
class _Progress:
    """A file import between its batches: its record, what it has counted so far, and what
    every batch stores with (the workspace's settings and topics, read once)."""

    import_id: int
    workspace_id: int
    settings: ListeningSettingsRead
    topics: list[CompiledTopic]
    counts: dict[str, int]
    errors: list[dict[str, Any]]


_COUNTS = ("rows", "imported", "duplicates", "failed", "truncated")


def _open_import(
    session: Session,
    *,
    actor: Actor,
    filename: str,
    file_format: FileFormat,
    mapping: str,
    encoding: str,
    digest: str,
    now: datetime,
) -> _Progress:
    """The unfinished import of this file with this mapping (to resume), or a new one."""
    record = session.scalars(
        select(MentionImport)
        .where(
            MentionImport.workspace_id == actor.workspace_id,
            MentionImport.sha256 == digest,
            MentionImport.status != "done",
            MentionImport.mapping == mapping,
        )
        .order_by(MentionImport.id.desc())
        .limit(1)
    ).first()
    if record is None:
        record = MentionImport(
            workspace_id=actor.workspace_id,
            filename=filename[:255] or "upload",
            file_format=file_format.value,
            mapping=mapping,
            encoding=encoding,
            created_by=actor.label,
            created_at=now,
            errors=[],
            sha256=digest,
        )
        session.add(record)
    record.status = "running"
    session.flush()
    return _Progress(
        import_id=record.id,
        workspace_id=actor.workspace_id,
        settings=load_settings(session, workspace_id=actor.workspace_id),
        topics=compiled_topics(session, workspace_id=actor.workspace_id),
        counts={key: getattr(record, key) or 0 for key in _COUNTS},
        errors=list(record.errors or []),
    )


def _commit_batch(
    db: Database,
    progress: _Progress,
    pending: list[MentionIn],
    *,
    now: datetime,
    scorer: Scorer | None,
) -> None:
    """The pending mentions and the counts up to here, in one transaction."""
    counts = progress.counts
    with db.transaction() as session:
        if pending:
            with MentionWriter(
                session,
                workspace_id=progress.workspace_id,
                settings=progress.settings,
                now=now,
                import_id=progress.import_id,
                scorer=scorer,
                topics=progress.topics,
            ) as writer:
                batch = writer.add(pending)
            counts["imported"] += batch.imported
            counts["duplicates"] += batch.duplicates
            counts["truncated"] += batch.truncated
        session.execute(
            update(MentionImport)
            .where(MentionImport.id == progress.import_id)
            .values(**counts, errors=list(progress.errors))
        )
    pending.clear()


def _finish_import(
    session: Session, *, actor: Actor, filename: str, progress: _Progress, now: datetime
) -> ImportRead:
    counts = progress.counts
    record = session.get_one(MentionImport, progress.import_id)
    record.status = "done"
    record.finished_at = now
    result = IngestResult(
        received=counts["rows"],
        imported=counts["imported"],
        duplicates=counts["duplicates"],
        failed=counts["failed"],
        truncated=counts["truncated"],
        errors=[RowError.model_validate(e) for e in progress.errors],
        import_id=progress.import_id,
    )
    _record_imported(session, actor=actor, result=result, source="file", now=now)
    record_audit(
        session,
        actor,
        "listening.import",
        ("mention_import", progress.import_id),
        _("Imported {n} mentions from {file}").format(n=counts["imported"], file=filename),
        now=now,
        after=counts,
    )
    session.flush()
    return ImportRead.model_validate(record)


def get_import(session: Session, *, actor: Actor, import_id: int) -> ImportRead:
    require(actor, Permission.READ_CAMPAIGNS)
    record = owned_row(
        session, MentionImport, import_id, actor=actor, missing=_("Import not found.")
    )
    return ImportRead.model_validate(record)


def list_imports(session: Session, *, actor: Actor, limit: int = 20) -> list[ImportRead]:
    require(actor, Permission.READ_CAMPAIGNS)
    rows = session.scalars(
        select(MentionImport)
        .where(MentionImport.workspace_id == actor.workspace_id)
        .order_by(MentionImport.id.desc())
        .limit(limit)
    )
    return [ImportRead.model_validate(r) for r in rows]
