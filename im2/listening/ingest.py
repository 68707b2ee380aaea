"""Storing a batch of mentions: idempotent insert, language, sentiment, duplicate groups,
topic matches and inbox entries, all in the caller's transaction.

Every way in (file import, `POST /api/v1/mentions`, feed polling) ends here, so they all get the
same rules. Batches are what make it fast: one query finds the known posts, one scoring call
covers the batch, one multi-row insert per table.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import Table, bindparam, select, text, tuple_, update
from sqlalchemy.orm import Session

from im2.listening import sentiment as sentiment_model
from im2.listening.dedup import NearDuplicateIndex
from im2.listening.models import InboxItem, Mention, Topic, TopicMatch
from im2.listening.query import Matcher, QueryError, compile_query, fields_of
from im2.listening.schemas import (
    MAX_TEXT,
    InboxReason,
    InboxStatus,
    ListeningSettingsRead,
    MentionIn,
    Priority,
    SentimentLabel,
)

log = logging.getLogger("im2.listening")
# Core tables: multi-row inserts and updates without building ORM objects (the hot path).
MENTIONS = cast(Table, Mention.__table__)
MATCHES = cast(Table, TopicMatch.__table__)
INBOX = cast(Table, InboxItem.__table__)

# (label, confidence, language) per text; None when no model could score it.
Scored = tuple[SentimentLabel | None, float | None, str]
Scorer = Callable[[Sequence[str]], list[Scored]]

# Older mentions are history (a backfill, a research data set): nobody answers a post from
# last year, so only recent ones enter the inbox.
INBOX_MAX_AGE: Final = timedelta(days=7)
NEGATIVE_CONFIDENCE: Final = 0.6
_QUESTION = re.compile(
    "|".join(
        (
            r"[?？]|吗[\s。！!]*$|怎么|如何|为什么|为啥|有没有|能不能|求助",
            r"\b(how|why|when|where|can you|does anyone)\b",
        )
    ),
    re.IGNORECASE,
)
_CHUNK: Final = 500  # ids per IN (...) list: far under every driver's parameter limit


def model_scorer(texts: Sequence[str]) -> list[Scored]:
    """The shipped sentiment model; if it cannot run, mentions are stored unscored and the
    `score_pending_mentions_job` scores them once it can (an import never fails for it)."""
    try:
        results = sentiment_model.score(texts)
    except Exception:  # the model is optional at import time, never a reason to lose data
        log.exception("sentiment scoring failed; mentions stored without sentiment")
        return [(None, None, sentiment_model.detect_language(t).value) for t in texts]
    return [
        (SentimentLabel(r.label.value), round(float(r.confidence), 4), r.language.value)
        for r in results
    ]


@dataclass(frozen=True, slots=True)
class BatchResult:
    imported: int
    duplicates: int
    truncated: int
    mention_ids: list[int]


@dataclass(frozen=True, slots=True)
class CompiledTopic:
    id: int
    matcher: Matcher


def compiled_topics(session: Session, *, workspace_id: int) -> list[CompiledTopic]:
    compiled = []
    for topic_id, query in session.execute(
        select(Topic.id, Topic.query).where(Topic.workspace_id == workspace_id)
    ):
        try:
            compiled.append(CompiledTopic(topic_id, compile_query(query)))
        except QueryError:  # saved queries were checked; a grammar change must not block imports
            log.warning("topic %s has a query that no longer parses", topic_id)
    return compiled


def _lock_workspace(session: Session, workspace_id: int) -> None:
    # SQLite writers are already serialised (BEGIN IMMEDIATE); on PostgreSQL two batches with
    # the same post would both pass the "is it new?" check, so they take turns per workspace.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(4242, :w)"), {"w": workspace_id})


def _known_posts(
    session: Session, workspace_id: int, keys: list[tuple[str, str]]
) -> set[tuple[str, str]]:
    known: set[tuple[str, str]] = set()
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        rows = session.execute(
            select(Mention.platform, Mention.post_id).where(
                Mention.workspace_id == workspace_id,
                tuple_(Mention.platform, Mention.post_id).in_(chunk),
            )
        )
        known.update((p, i) for p, i in rows)
    return known


def _known_fingerprints(session: Session, workspace_id: int, prints: list[str]) -> dict[str, int]:
    groups: dict[str, int] = {}
    for start in range(0, len(prints), _CHUNK):
        chunk = list(set(prints[start : start + _CHUNK]))
        rows = session.execute(
            select(Mention.fingerprint, Mention.id, Mention.duplicate_group)
            .where(Mention.workspace_id == workspace_id, Mention.fingerprint.in_(chunk))
            .order_by(Mention.id)
        )
        for fp, mention_id, group in rows:
            groups.setdefault(fp, group or mention_id)
    return groups


def inbox_reasons(
    mention: MentionIn,
    label: SentimentLabel | None,
    confidence: float | None,
    settings: ListeningSettingsRead,
) -> tuple[list[InboxReason], Priority]:
    reasons: list[InboxReason] = []
    if label is SentimentLabel.NEGATIVE and (confidence or 0) >= NEGATIVE_CONFIDENCE:
        reasons.append(InboxReason.NEGATIVE)
    if _QUESTION.search(mention.text[:2000]):
        reasons.append(InboxReason.QUESTION)
    vip = settings.vip_followers > 0 and mention.author_followers >= settings.vip_followers
    if vip:
        reasons.append(InboxReason.VIP)
    lowered = mention.text.lower()
    if any(k.strip() and k.strip().lower() in lowered for k in settings.inbox_keywords):
        reasons.append(InboxReason.KEYWORD)
    if vip and InboxReason.NEGATIVE in reasons:
        priority = Priority.URGENT
    elif vip or InboxReason.KEYWORD in reasons:
        priority = Priority.HIGH
    elif InboxReason.NEGATIVE in reasons:
        priority = Priority.NORMAL
    else:
        priority = Priority.LOW
    return reasons, priority


def store_mentions(
    session: Session,
    *,
    workspace_id: int,
    mentions: Sequence[MentionIn],
    settings: ListeningSettingsRead,
    now: datetime,
    import_id: int | None = None,
    scorer: Scorer | None = None,
    topics: list[CompiledTopic] | None = None,
) -> BatchResult:
    """Insert the new mentions of a batch; ones already stored (same platform and post id) are
    counted as duplicates and left as they are. Caller owns the transaction."""
    _lock_workspace(session, workspace_id)
    fresh: dict[tuple[str, str], MentionIn] = {}
    for m in mentions:
        fresh.setdefault((m.platform.value, m.post_id), m)
    known = _known_posts(session, workspace_id, list(fresh))
    new = [m for key, m in fresh.items() if key not in known]
    duplicates = len(mentions) - len(new)
    if not new:
        return BatchResult(0, duplicates, 0, [])

    texts = [m.text[:MAX_TEXT] for m in new]
    truncated = sum(len(m.text) > MAX_TEXT for m in new)
    # Looked up at call time, so a deployment (or a test) can swap the model in one place.
    scored = (scorer or model_scorer)(texts)
    grouping = NearDuplicateIndex().group_batch(texts)
    stored_groups = _known_fingerprints(session, workspace_id, grouping.fingerprints)

    rows: list[dict[str, Any]] = []
    for m, text_, (label, confidence, language), fp, group in zip(
        new, texts, scored, grouping.fingerprints, grouping.groups, strict=True
    ):
        if fp in stored_groups and not isinstance(group, int):
            group = stored_groups[fp]
        raw = dict(m.raw)
        if len(m.text) > MAX_TEXT:
            raw.setdefault("_original_length", len(m.text))
        rows.append(
            {
                "workspace_id": workspace_id,
                "platform": m.platform.value,
                "post_id": m.post_id,
                "url": m.url,
                "author": m.author,
                "author_followers": m.author_followers,
                "text": text_,
                "language": language,
                "posted_at": m.posted_at,
                "posted_minute": int(m.posted_at.timestamp() // 60),
                "likes": m.likes,
                "reposts": m.reposts,
                "comments": m.comments,
                "sentiment": label.value if label else None,
                "sentiment_confidence": confidence,
                "sentiment_corrected": False,
                "duplicate_group": group if isinstance(group, int) else None,
                "fingerprint": fp,
                "import_id": import_id,
                "raw": raw,
                "created_at": now,
            }
        )
    ids = list(
        session.scalars(
            MENTIONS.insert().returning(Mention.id, sort_by_parameter_order=True),
            rows,
        )
    )
    # Rows that copy an earlier row of this same batch learn its id only now.
    batch_refs = [
        {"mid": ids[i], "grp": ids[g[1]]}
        for i, g in enumerate(grouping.groups)
        if isinstance(g, tuple) and not isinstance(rows[i]["duplicate_group"], int)
    ]
    if batch_refs:
        session.execute(
            update(MENTIONS)
            .where(MENTIONS.c.id == bindparam("mid"))
            .values(duplicate_group=bindparam("grp")),
            batch_refs,
        )

    topics = compiled_topics(session, workspace_id=workspace_id) if topics is None else topics
    if topics:
        matches: list[dict[str, Any]] = []
        for mention_id, row in zip(ids, rows, strict=True):
            fields = fields_of(
                text=row["text"],
                author=row["author"],
                platform=row["platform"],
                language=row["language"],
                sentiment=row["sentiment"],
            )
            for topic in topics:
                if topic.matcher(fields):
                    matches.append(
                        {
                            "topic_id": topic.id,
                            "mention_id": mention_id,
                            "posted_minute": row["posted_minute"],
                            "sentiment": row["sentiment"],
                        }
                    )
        if matches:
            session.execute(MATCHES.insert(), matches)

    first_limit = timedelta(minutes=settings.escalation_ladder[0].minutes)
    inbox: list[dict[str, Any]] = []
    for mention_id, m, (label, confidence, _lang) in zip(ids, new, scored, strict=True):
        if m.posted_at < now - INBOX_MAX_AGE:
            continue
        reasons, priority = inbox_reasons(m, label, confidence, settings)
        if reasons:
            inbox.append(
                {
                    "workspace_id": workspace_id,
                    "mention_id": mention_id,
                    "reasons": [r.value for r in reasons],
                    "priority": priority.value,
                    "status": InboxStatus.NEW.value,
                    "escalation_step": 0,
                    "step_due_at": now + first_limit,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    if inbox:
        session.execute(INBOX.insert(), inbox)
    return BatchResult(len(new), duplicates, truncated, ids)


def score_pending(session: Session, *, limit: int = 2000, scorer: Scorer | None = None) -> int:
    """Score up to `limit` mentions stored without sentiment; returns how many got a label."""
    rows = session.execute(
        select(Mention.id, Mention.text)
        .where(Mention.sentiment.is_(None), Mention.sentiment_corrected.is_(False))
        .order_by(Mention.id)
        .limit(limit)
    ).all()
    if not rows:
        return 0
    updates = [
        {"mid": mention_id, "label": label.value, "conf": confidence}
        for (mention_id, _text), (label, confidence, _lang) in zip(
            rows, (scorer or model_scorer)([t for _id, t in rows]), strict=True
        )
        if label is not None
    ]
    if updates:
        mentions, matches = MENTIONS, MATCHES
        session.execute(
            update(mentions)
            .where(mentions.c.id == bindparam("mid"))
            .values(sentiment=bindparam("label"), sentiment_confidence=bindparam("conf")),
            updates,
        )
        session.execute(
            update(matches)
            .where(matches.c.mention_id == bindparam("mid"))
            .values(sentiment=bindparam("label")),
            [{"mid": u["mid"], "label": u["label"]} for u in updates],
        )
    return len(updates)
