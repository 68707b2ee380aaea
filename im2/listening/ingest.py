"""Storing a batch of mentions: idempotent insert, language, sentiment, duplicate groups,
topic matches and inbox entries, all in the caller's transaction.

Every way in (file import, `POST /api/v1/mentions`, feed polling) ends here, so they all get the
same rules. Batches are what make it fast: one query finds the known posts, one scoring call
covers the batch, one multi-row insert per table.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import BigInteger, String, Table, any_, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from im2.listening import dedup, retrain
from im2.listening import sentiment as sentiment_model
from im2.listening.models import InboxItem, Mention, NearDuplicateBand, Topic, TopicMatch
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
BANDS = cast(Table, NearDuplicateBand.__table__)

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


def _overlay_scorer(overlay: retrain.Overlay) -> Scorer:
    def score(texts: Sequence[str]) -> list[Scored]:
        return [
            (SentimentLabel(r.label.value), round(float(r.confidence), 4), r.language.value)
            for r in overlay.score(texts)
        ]

    return score


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


def _one_of(session: Session, column: Any, values: Sequence[str] | Sequence[int]) -> Any:
    """`column IN (values)` with the whole list as ONE bound parameter (a JSON array read by
    `json_each` on SQLite, an array with `= ANY` on PostgreSQL): thousands of values cost one
    parameter instead of thousands, so the statement compiles once and stays cached."""
    if session.get_bind().dialect.name == "postgresql":
        item = BigInteger() if values and isinstance(values[0], int) else String()
        return column == any_(bindparam("values", list(values), type_=ARRAY(item)))
    listed = func.json_each(bindparam("values", json.dumps(list(values)))).table_valued("value")
    return column.in_(select(listed.c.value))


def _known_posts(
    session: Session, workspace_id: int, keys: list[tuple[str, str]]
) -> set[tuple[str, str]]:
    by_platform: dict[str, list[str]] = {}
    for platform, post_id in keys:
        by_platform.setdefault(platform, []).append(post_id)
    known: set[tuple[str, str]] = set()
    for platform, post_ids in by_platform.items():
        rows = session.scalars(
            select(Mention.post_id).where(
                Mention.workspace_id == workspace_id,
                Mention.platform == platform,
                _one_of(session, Mention.post_id, post_ids),
            )
        )
        known.update((platform, post_id) for post_id in rows)
    return known


def _known_fingerprints(session: Session, workspace_id: int, prints: list[str]) -> dict[str, int]:
    groups: dict[str, int] = {}
    rows = session.execute(
        select(Mention.fingerprint, Mention.id, Mention.duplicate_group)
        .where(
            Mention.workspace_id == workspace_id,
            _one_of(session, Mention.fingerprint, sorted(set(prints))),
        )
        .order_by(Mention.id)
    )
    for fp, mention_id, group in rows:
        groups.setdefault(fp, group or mention_id)
    return groups


def _known_bands(
    session: Session, workspace_id: int, keys: list[int]
) -> tuple[dict[int, int], set[tuple[int, int]]]:
    """Stored LSH band keys of the batch → the earliest group that has each, and the stored
    (band key, group) pairs themselves (so the batch inserts only pairs that are new)."""
    groups: dict[int, int] = {}
    pairs: set[tuple[int, int]] = set()
    if not keys:
        return groups, pairs
    rows = session.execute(
        select(BANDS.c.band_key, BANDS.c.group_id).where(
            BANDS.c.workspace_id == workspace_id, _one_of(session, BANDS.c.band_key, keys)
        )
    )
    for key, group in rows:
        pairs.add((key, group))
        if key not in groups or group < groups[key]:
            groups[key] = group
    return groups, pairs


def _store_bands(session: Session, workspace_id: int, pairs: set[tuple[int, int]]) -> None:
    """Insert (band key, group) pairs, leaving ones already stored alone. Straight to the
    driver: these are plain integers, and there are five per mention."""
    if not pairs:
        return
    rows = [(workspace_id, k, g) for k, g in pairs]
    dialect = session.get_bind().dialect.name
    verb, tail = ("INSERT", "ON CONFLICT DO NOTHING")
    if dialect == "sqlite":
        verb, tail = ("INSERT OR IGNORE", "")
    session.connection().exec_driver_sql(
        f"{verb} INTO {BANDS.name} (workspace_id, band_key, group_id) "
        f"VALUES ({', '.join([_paramstyle(dialect)] * 3)}) {tail}",
        rows,
    )


def _paramstyle(dialect: str) -> str:
    return "%s" if dialect == "postgresql" else "?"


def _insert_columns(
    session: Session,
    table: Table,
    columns: dict[str, list[Any]],
    same: dict[str, Any] | None = None,
) -> None:
    """A multi-row insert given column by column, straight to the driver's executemany.

    Each value still goes through its column type's bind processor (UTC datetimes, JSON), so
    the stored values are exactly those SQLAlchemy's own insert stores; what this skips is its
    per-row, per-parameter bookkeeping, which cost more than SQLite's insert itself. `same`
    holds values shared by every row (processed once)."""
    connection = session.connection()
    dialect = connection.dialect
    n = len(next(iter(columns.values())))
    values: list[list[Any]] = []
    names = [*columns, *(same or {})]
    for name in names:
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if name in columns:
            column = columns[name]
            values.append(list(map(process, column)) if process else column)
        else:
            value = (same or {})[name]
            values.append([process(value) if process else value] * n)
    quote = dialect.identifier_preparer.quote
    listed = ", ".join(quote(name) for name in names)
    if dialect.name == "postgresql":
        # COPY is PostgreSQL's bulk path: one statement streams every row, where executemany
        # has the server parse, plan and execute an INSERT per row. Same transaction.
        driver = connection.connection.driver_connection
        statement = f"COPY {table.name} ({listed}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in zip(*values, strict=True):
                copy.write_row(row)
        return
    marks = ", ".join([_paramstyle(dialect.name)] * len(names))
    # Only the table's own (quoted) column names are put into the SQL; the values are bound.
    sql = f"INSERT INTO {table.name} ({listed}) VALUES ({marks})"  # noqa: S608
    connection.exec_driver_sql(sql, list(zip(*values, strict=True)))


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


def _allocate_ids(session: Session, n: int) -> list[int]:
    """Ids for `n` new mentions, taken before the insert so it needs no RETURNING.

    PostgreSQL hands them out from the table's sequence (safe under concurrency). On SQLite the
    write transaction holds the database's only write lock (BEGIN IMMEDIATE), so the next ids
    after the largest one are exactly what SQLite itself would assign.
    """
    if session.get_bind().dialect.name == "postgresql":
        return list(
            session.scalars(
                text(
                    "SELECT nextval(pg_get_serial_sequence('listening_mentions', 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"n": n},
            )
        )
    start = session.scalar(select(func.coalesce(func.max(Mention.id), 0))) or 0
    return list(range(start + 1, start + n + 1))


def _batch_index(group: object, own: int) -> int:
    """The batch row naming a group: ("batch", j) → j; None (a group of its own) → own."""
    if isinstance(group, tuple) and isinstance(group[1], int):
        return group[1]
    return own


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
    # Sentiment and duplicate grouping both start from NFKC; one pass serves both.
    normalised = sentiment_model.nfkc_batch(texts)
    if scorer is None:
        # The workspace's own variant retrained from its corrections, if one is active.
        overlay = retrain.active_overlay(session, workspace_id=workspace_id)
        scorer = _overlay_scorer(overlay) if overlay else model_scorer
    scored = scorer(normalised)
    prepared = dedup.prepare(normalised)
    known_bands, stored_pairs = _known_bands(session, workspace_id, prepared.all_bands())
    grouping = dedup.group_batch(
        prepared,
        known_fingerprints=_known_fingerprints(session, workspace_id, prepared.fingerprints),
        known_bands=known_bands,
    )
    # Ids first (no RETURNING needed), so a row that copies an earlier row of this same batch
    # is stored with that row's id as its group straight away.
    ids = _allocate_ids(session, len(new))
    groups: list[int | None] = [
        group if isinstance(group, int) else ids[_batch_index(group, i)] if group else None
        for i, group in enumerate(grouping.groups)
    ]

    # The batch column by column: a plain executemany (no RETURNING), the driver's fast path.
    raws: list[dict[str, Any]] = []
    for m in new:
        raw = dict(m.raw)
        if len(m.text) > MAX_TEXT:
            raw.setdefault("_original_length", len(m.text))
        raws.append(raw)
    labels = [label.value if label else None for label, _conf, _lang in scored]
    languages = [language for _label, _conf, language in scored]
    minutes = [int(m.posted_at.timestamp() // 60) for m in new]
    platforms = [m.platform.value for m in new]
    authors = [m.author for m in new]
    _insert_columns(
        session,
        MENTIONS,
        {
            "id": ids,
            "platform": platforms,
            "post_id": [m.post_id for m in new],
            "url": [m.url for m in new],
            "author": authors,
            "author_followers": [m.author_followers for m in new],
            "text": texts,
            "language": languages,
            "posted_at": [m.posted_at for m in new],
            "posted_minute": minutes,
            "likes": [m.likes for m in new],
            "reposts": [m.reposts for m in new],
            "comments": [m.comments for m in new],
            "sentiment": labels,
            "sentiment_confidence": [confidence for _label, confidence, _lang in scored],
            "duplicate_group": groups,
            "fingerprint": grouping.fingerprints,
            "raw": raws,
        },
        same={
            "workspace_id": workspace_id,
            "sentiment_corrected": False,
            "import_id": import_id,
            "created_at": now,
        },
    )
    # Each row's band keys, under the id of the group it belongs to (its own when it is first),
    # for the batches still to come; pairs already stored are left out before the insert.
    band_pairs: set[tuple[int, int]] = set()
    for mention_id, group, keys in zip(ids, groups, grouping.bands, strict=True):
        if keys:
            gid = mention_id if group is None else group
            band_pairs.update((k, gid) for k in keys)
    _store_bands(session, workspace_id, band_pairs - stored_pairs)

    topics = compiled_topics(session, workspace_id=workspace_id) if topics is None else topics
    if topics:
        matches: dict[str, list[Any]] = {
            "topic_id": [],
            "mention_id": [],
            "posted_minute": [],
            "sentiment": [],
        }
        for i, mention_id in enumerate(ids):
            fields = fields_of(
                text=texts[i],
                author=authors[i],
                platform=platforms[i],
                language=languages[i],
                sentiment=labels[i],
            )
            for topic in topics:
                if topic.matcher(fields):
                    matches["topic_id"].append(topic.id)
                    matches["mention_id"].append(mention_id)
                    matches["posted_minute"].append(minutes[i])
                    matches["sentiment"].append(labels[i])
        if matches["topic_id"]:
            _insert_columns(session, MATCHES, matches)

    first_limit = timedelta(minutes=settings.escalation_ladder[0].minutes)
    inbox: dict[str, list[Any]] = {"mention_id": [], "reasons": [], "priority": []}
    for mention_id, m, (label, confidence, _lang) in zip(ids, new, scored, strict=True):
        if m.posted_at < now - INBOX_MAX_AGE:
            continue
        reasons, priority = inbox_reasons(m, label, confidence, settings)
        if reasons:
            inbox["mention_id"].append(mention_id)
            inbox["reasons"].append([r.value for r in reasons])
            inbox["priority"].append(priority.value)
    if inbox["mention_id"]:
        _insert_columns(
            session,
            INBOX,
            inbox,
            same={
                "workspace_id": workspace_id,
                "status": InboxStatus.NEW.value,
                "escalation_step": 0,
                "step_due_at": now + first_limit,
                "created_at": now,
                "updated_at": now,
            },
        )
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
