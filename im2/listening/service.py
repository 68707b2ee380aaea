"""Listening operations on mentions: settings, file imports, batch ingest, listing, corrections.

Topics and dashboards are in `topics.py`, alerts in `alerting.py`, the inbox in `inbox.py`.
Callers own the transaction; nothing here commits, except a file import (`do_import_file`),
which commits batch by batch.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from im2.db import Database
from im2.errors import InvalidInput, NotFound
from im2.events.schemas import EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.listening.formats import (
    PRESETS,
    PRESETS_BY_KEY,
    ColumnSpec,
    MentionField,
    spec_from_json,
)
from im2.listening.importers import (
    MAX_ROW_ERRORS,
    FileFormat,
    FileProblem,
    decode,
    guess_format,
    read_mentions,
)
from im2.listening.ingest import MentionWriter, Scorer, compiled_topics, store_mentions
from im2.listening.models import (
    ColumnMapping,
    ListeningSettings,
    Mention,
    MentionImport,
    SentimentCorrection,
    TopicMatch,
)
from im2.listening.reach import check_delivery, private_networks_allowed
from im2.listening.schemas import (
    ColumnMappingRead,
    ImportRead,
    IngestResult,
    ListeningSettingsIn,
    ListeningSettingsRead,
    MentionFilter,
    MentionIn,
    MentionPage,
    MentionRead,
    RowError,
    SentimentLabel,
)
from im2.pagination import decode_cursor, encode_cursor
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import check_timezone, get_workspace_by_id, record_audit, require

BATCH: Final = 2000
MAX_FILE_BYTES: Final = 200 * 1024 * 1024


# --- settings -------------------------------------------------------------------------------


def load_settings(session: Session, *, workspace_id: int) -> ListeningSettingsRead:
    row = session.get(ListeningSettings, workspace_id)
    if row is None:
        return ListeningSettingsRead()
    return ListeningSettingsRead.model_validate(
        {
            "webhook_url": row.webhook_url,
            "alert_emails": row.alert_emails,
            "crisis_contacts": row.crisis_contacts,
            "crisis_steps": row.crisis_steps,
            "vip_followers": row.vip_followers,
            "inbox_keywords": row.inbox_keywords,
            "escalation_ladder": row.escalation_ladder
            or ListeningSettingsIn().model_dump()["escalation_ladder"],
            "smtp_host": row.smtp_host,
            "smtp_port": row.smtp_port,
            "smtp_sender": row.smtp_sender,
        }
    )


def get_settings(session: Session, *, actor: Actor) -> ListeningSettingsRead:
    require(actor, Permission.READ_CAMPAIGNS)
    return load_settings(session, workspace_id=actor.workspace_id)


def do_update_settings(
    session: Session,
    *,
    actor: Actor,
    data: ListeningSettingsIn,
    now: datetime,
    private_networks: bool | None = None,
) -> ListeningSettingsRead:
    """Save the settings. A webhook or mail server that is not on the public internet is
    refused unless `private_networks` (default: the settings' choice)."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    data = check_delivery(data, private_networks=private_networks_allowed(private_networks))
    before = load_settings(session, workspace_id=actor.workspace_id).model_dump(mode="json")
    values = data.model_dump(mode="json")
    row = session.get(ListeningSettings, actor.workspace_id)
    if row is None:
        row = ListeningSettings(workspace_id=actor.workspace_id, updated_at=now)
        session.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_at = now
    session.flush()
    record_audit(
        session,
        actor=actor,
        workspace_id=actor.workspace_id,
        action="listening.settings",
        target_type="listening_settings",
        target_id=None,
        summary=_("Listening settings changed"),
        before=before,
        after=values,
        now=now,
    )
    return load_settings(session, workspace_id=actor.workspace_id)


# --- mappings -------------------------------------------------------------------------------


def list_mappings(session: Session, *, actor: Actor) -> list[tuple[str, str]]:
    """(key, title) of the ready mappings, then the workspace's saved ones."""
    require(actor, Permission.READ_CAMPAIGNS)
    saved = session.scalars(
        select(ColumnMapping.name)
        .where(ColumnMapping.workspace_id == actor.workspace_id)
        .order_by(ColumnMapping.name)
    )
    return [(p.key, p.title) for p in PRESETS] + [(name, name) for name in saved]


def _mapping_read(spec: ColumnSpec, *, preset: bool) -> ColumnMappingRead:
    data = spec.to_json()
    return ColumnMappingRead(
        name=spec.key,
        title=_(spec.title) if preset else spec.key,
        preset=preset,
        platform=data["platform"],
        columns={f.value: data["columns"][f.value] for f in MentionField if f in data["columns"]},
        required=data["required"],
        timezone=data["timezone"],
    )


def list_saved_mappings(session: Session, *, actor: Actor) -> list[ColumnMappingRead]:
    """The workspace's saved mappings, by name."""
    require(actor, Permission.READ_CAMPAIGNS)
    rows = session.execute(
        select(ColumnMapping.name, ColumnMapping.spec)
        .where(ColumnMapping.workspace_id == actor.workspace_id)
        .order_by(ColumnMapping.name)
    )
    return [_mapping_read(spec_from_json(name, spec), preset=False) for name, spec in rows]


def list_mapping_details(session: Session, *, actor: Actor) -> list[ColumnMappingRead]:
    """Every mapping an import can name: the ready ones, then the workspace's saved ones."""
    presets = [_mapping_read(p, preset=True) for p in PRESETS]
    return presets + list_saved_mappings(session, actor=actor)


def get_mapping(session: Session, *, actor: Actor, name: str) -> ColumnMappingRead:
    """A ready or saved mapping by name; NotFound when there is none."""
    require(actor, Permission.READ_CAMPAIGNS)
    if name in PRESETS_BY_KEY:
        return _mapping_read(PRESETS_BY_KEY[name], preset=True)
    saved = _saved_mapping(session, workspace_id=actor.workspace_id, name=name)
    if saved is None:
        raise NotFound(_("Column mapping not found."))
    return _mapping_read(spec_from_json(saved.name, saved.spec), preset=False)


def _saved_mapping(session: Session, *, workspace_id: int, name: str) -> ColumnMapping | None:
    return session.scalar(
        select(ColumnMapping).where(
            ColumnMapping.workspace_id == workspace_id, ColumnMapping.name == name
        )
    )


def do_save_mapping(
    session: Session, *, actor: Actor, name: str, spec: dict[str, Any], now: datetime
) -> ColumnMappingRead:
    """Save a mapping under `name`, replacing the workspace's mapping of that name."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    name = name.strip()
    if not name or len(name) > 64 or name in PRESETS_BY_KEY:
        raise InvalidInput(_("Choose another name for the mapping."), field="name")
    if spec.get("timezone"):
        check_timezone(str(spec["timezone"]))
    try:
        checked = spec_from_json(name, spec).to_json()
    except ValueError as exc:
        raise InvalidInput(
            _("The mapping is not valid: {reason}").format(reason=exc), field="spec"
        ) from None
    row = _saved_mapping(session, workspace_id=actor.workspace_id, name=name)
    before = dict(row.spec) if row is not None else None
    if row is None:
        row = ColumnMapping(
            workspace_id=actor.workspace_id, name=name, spec=checked, created_at=now
        )
        session.add(row)
    else:
        row.spec = checked
    session.flush()
    record_audit(
        session,
        actor=actor,
        workspace_id=actor.workspace_id,
        action="listening.mapping",
        target_type="column_mapping",
        target_id=row.id,
        summary=_("Column mapping “{name}” saved").format(name=name),
        before=before,
        after=checked,
        now=now,
    )
    return _mapping_read(spec_from_json(name, checked), preset=False)


def do_delete_mapping(session: Session, *, actor: Actor, name: str, now: datetime) -> None:
    """Delete a saved mapping; past import reports keep its name."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    if name in PRESETS_BY_KEY:
        raise InvalidInput(_("Mappings that come with IM2 cannot be deleted."), field="name")
    row = _saved_mapping(session, workspace_id=actor.workspace_id, name=name)
    if row is None:
        raise NotFound(_("Column mapping not found."))
    record_audit(
        session,
        actor=actor,
        workspace_id=actor.workspace_id,
        action="listening.mapping.delete",
        target_type="column_mapping",
        target_id=row.id,
        summary=_("Column mapping “{name}” deleted").format(name=name),
        before=dict(row.spec),
        after=None,
        now=now,
    )
    session.delete(row)
    session.flush()


def workspace_timezone(session: Session, *, actor: Actor) -> str:
    """The zone an import reads times without an offset in when neither the importer nor
    the mapping names one."""
    return get_workspace_by_id(session, workspace_id=actor.workspace_id).timezone


def _spec(session: Session, *, workspace_id: int, key: str) -> ColumnSpec:
    if key in PRESETS_BY_KEY:
        return PRESETS_BY_KEY[key]
    saved = session.scalar(
        select(ColumnMapping.spec).where(
            ColumnMapping.workspace_id == workspace_id, ColumnMapping.name == key
        )
    )
    if saved is None:
        raise InvalidInput(_("Unknown column mapping."), field="mapping")
    return spec_from_json(key, saved)


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
    if not data:
        raise InvalidInput(_("The file is empty."), field="file")
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(
            _("The file is larger than {n} MB; split it.").format(n=MAX_FILE_BYTES // 2**20),
            field="file",
        )
    if timezone:
        check_timezone(timezone)
    digest = hashlib.sha256(data).hexdigest()
    with db.session() as session:
        spec = _spec(session, workspace_id=actor.workspace_id, key=mapping)
        zone = timezone or spec.timezone or workspace_timezone(session, actor=actor)
    try:
        text, encoding = decode(data)
        fmt = file_format or guess_format(filename, text)
        rows = read_mentions(text, file_format=fmt, spec=spec, now=now, timezone=zone)
    except FileProblem as exc:
        raise InvalidInput(exc.message, field="file") from None
    with db.transaction() as session:
        record = session.scalars(
            select(MentionImport)
            .where(
                MentionImport.workspace_id == actor.workspace_id,
                MentionImport.sha256 == digest,
                MentionImport.status != "done",
                MentionImport.mapping == spec.key,
            )
            .order_by(MentionImport.id.desc())
            .limit(1)
        ).first()
        if record is None:
            record = MentionImport(
                workspace_id=actor.workspace_id,
                filename=filename[:255] or "upload",
                file_format=fmt.value,
                mapping=spec.key,
                encoding=encoding,
                created_by=actor.label,
                created_at=now,
                errors=[],
                sha256=digest,
            )
            session.add(record)
        record.status = "running"
        session.flush()
        import_id = record.id
        settings = load_settings(session, workspace_id=actor.workspace_id)
        topics = compiled_topics(session, workspace_id=actor.workspace_id)
        keys = ("rows", "imported", "duplicates", "failed", "truncated")
        counts = {key: getattr(record, key) or 0 for key in keys}
        errors: list[dict[str, Any]] = list(record.errors or [])
    pending: list[MentionIn] = []

    def commit_batch() -> None:
        """The pending mentions and the counts up to here, in one transaction."""
        with db.transaction() as session:
            if pending:
                with MentionWriter(
                    session,
                    workspace_id=actor.workspace_id,
                    settings=settings,
                    now=now,
                    import_id=import_id,
                    scorer=scorer,
                    topics=topics,
                ) as writer:
                    batch = writer.add(pending)
                counts["imported"] += batch.imported
                counts["duplicates"] += batch.duplicates
                counts["truncated"] += batch.truncated
            session.execute(
                update(MentionImport)
                .where(MentionImport.id == import_id)
                .values(**counts, errors=list(errors))
            )
        pending.clear()

    try:
        # Rows already read by the unfinished import of this file: their batches committed.
        for row in itertools.islice(rows, counts["rows"], None):
            counts["rows"] += 1
            if row.mention is None:
                counts["failed"] += 1
                if len(errors) < MAX_ROW_ERRORS:
                    errors.append(row.error_record())
            else:
                pending.append(row.mention)
                if len(pending) >= BATCH:
                    commit_batch()
        commit_batch()
    except BaseException:
        # Best effort: the committed batches stay, and the same file imported again resumes.
        with contextlib.suppress(Exception), db.transaction() as session:
            session.execute(
                update(MentionImport).where(MentionImport.id == import_id).values(status="failed")
            )
        raise
    with db.transaction() as session:
        record = session.get_one(MentionImport, import_id)
        record.status = "done"
        record.finished_at = now
        result = IngestResult(
            received=counts["rows"],
            imported=counts["imported"],
            duplicates=counts["duplicates"],
            failed=counts["failed"],
            truncated=counts["truncated"],
            errors=[RowError.model_validate(e) for e in errors],
            import_id=import_id,
        )
        _record_imported(session, actor=actor, result=result, source="file", now=now)
        record_audit(
            session,
            actor=actor,
            workspace_id=actor.workspace_id,
            action="listening.import",
            target_type="mention_import",
            target_id=import_id,
            summary=_("Imported {n} mentions from {file}").format(
                n=counts["imported"], file=filename
            ),
            before=None,
            after=counts,
            now=now,
        )
        session.flush()
        return ImportRead.model_validate(record)


def get_import(session: Session, *, actor: Actor, import_id: int) -> ImportRead:
    require(actor, Permission.READ_CAMPAIGNS)
    record = session.get(MentionImport, import_id)
    if record is None or record.workspace_id != actor.workspace_id:
        raise NotFound(_("Import not found."))
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


# --- reading and correcting -----------------------------------------------------------------


def list_mentions(
    session: Session, *, actor: Actor, filters: MentionFilter, cursor: str | None, limit: int
) -> MentionPage:
    require(actor, Permission.READ_CAMPAIGNS)
    query = select(Mention).where(Mention.workspace_id == actor.workspace_id)
    if filters.platform:
        query = query.where(Mention.platform == filters.platform.value)
    if filters.sentiment:
        query = query.where(Mention.sentiment == filters.sentiment.value)
    if filters.language:
        query = query.where(Mention.language == filters.language)
    if filters.topic_id:
        query = query.where(
            Mention.id.in_(
                select(TopicMatch.mention_id).where(TopicMatch.topic_id == filters.topic_id)
            )
        )
    if filters.q:
        like = f"%{filters.q.strip()}%"
        query = query.where(or_(Mention.text.ilike(like), Mention.author.ilike(like)))
    if filters.since:
        query = query.where(Mention.posted_at >= filters.since)
    if filters.until:
        query = query.where(Mention.posted_at < filters.until)
    last_id = decode_cursor(cursor)
    if last_id is not None:
        query = query.where(Mention.id < last_id)
    rows = list(session.scalars(query.order_by(Mention.id.desc()).limit(limit + 1)))
    items = [MentionRead.model_validate(r) for r in rows[:limit]]
    next_cursor = encode_cursor(items[-1].id) if len(rows) > limit and items else None
    return MentionPage(items=items, next_cursor=next_cursor)


def get_mention(session: Session, *, actor: Actor, mention_id: int) -> MentionRead:
    require(actor, Permission.READ_CAMPAIGNS)
    return MentionRead.model_validate(_mention(session, actor=actor, mention_id=mention_id))


def _mention(session: Session, *, actor: Actor, mention_id: int) -> Mention:
    mention = session.get(Mention, mention_id)
    if mention is None or mention.workspace_id != actor.workspace_id:
        raise NotFound(_("Mention not found."))
    return mention


def do_correct_sentiment(
    session: Session, *, actor: Actor, mention_id: int, label: SentimentLabel, now: datetime
) -> MentionRead:
    """Set a mention's sentiment by hand; the text and both labels are kept for retraining."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    mention = _mention(session, actor=actor, mention_id=mention_id)
    before = mention.sentiment
    session.add(
        SentimentCorrection(
            workspace_id=actor.workspace_id,
            mention_id=mention.id,
            text=mention.text,
            language=mention.language,
            model_label=before if not mention.sentiment_corrected else None,
            label=label.value,
            corrected_by=actor.label,
            corrected_at=now,
        )
    )
    mention.sentiment = label.value
    mention.sentiment_confidence = 1.0
    mention.sentiment_corrected = True
    session.execute(
        update(TopicMatch).where(TopicMatch.mention_id == mention.id).values(sentiment=label.value)
    )
    session.flush()
    record_audit(
        session,
        actor=actor,
        workspace_id=actor.workspace_id,
        action="listening.sentiment",
        target_type="mention",
        target_id=mention.id,
        summary=_("Sentiment corrected"),
        before={"sentiment": before},
        after={"sentiment": label.value},
        now=now,
    )
    return MentionRead.model_validate(mention)


def corrections_for_training(
    session: Session, *, workspace_id: int | None = None
) -> Iterable[tuple[str, str, str]]:
    """(text, language, label) of every correction, newest last: data to retrain the model."""
    query = select(
        SentimentCorrection.text, SentimentCorrection.language, SentimentCorrection.label
    ).order_by(SentimentCorrection.id)
    if workspace_id is not None:
        query = query.where(SentimentCorrection.workspace_id == workspace_id)
    return [(t, lang, label) for t, lang, label in session.execute(query)]
