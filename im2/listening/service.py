"""Listening operations on mentions: the facade of settings and mappings
(`workspace_settings`), batch and file imports (`imports`), and here the listing and the
correction of mentions.

Topics and dashboards are in `topics.py`, alerts in `alerting.py`, the inbox in `inbox.py`.
Callers own the transaction; nothing here commits, except a file import (`do_import_file`),
which commits batch by batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from im2.i18n import _
from im2.listening.imports import (
    BATCH,
    MAX_FILE_BYTES,
    do_import_file,
    do_ingest_batch,
    get_import,
    list_imports,
)
from im2.listening.models import (
    Mention,
    SentimentCorrection,
    TopicMatch,
)
from im2.listening.schemas import (
    MentionFilter,
    MentionPage,
    MentionRead,
    SentimentLabel,
)
from im2.listening.workspace_settings import (
    do_delete_mapping,
    do_save_mapping,
    do_update_settings,
    get_mapping,
    get_settings,
    list_mapping_details,
    list_mappings,
    list_saved_mappings,
    load_settings,
    workspace_timezone,
)
from im2.pagination import decode_cursor, encode_cursor
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import owned_row, record_audit, require

__all__ = [
    "BATCH",
    "MAX_FILE_BYTES",
    "corrections_for_training",
    "do_correct_sentiment",
    "do_delete_mapping",
    "do_import_file",
    "do_ingest_batch",
    "do_save_mapping",
    "do_update_settings",
    "get_import",
    "get_mapping",
    "get_mention",
    "get_settings",
    "list_imports",
    "list_mapping_details",
    "list_mappings",
    "list_mentions",
    "list_saved_mappings",
    "load_settings",
    "workspace_timezone",
]


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
    mention = owned_row(session, Mention, mention_id, actor=actor, missing=_("Mention not found."))
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
        actor,
        "listening.sentiment",
        ("mention", mention.id),
        _("Sentiment corrected"),
        now=now,
        before={"sentiment": before},
        after={"sentiment": label.value},
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
