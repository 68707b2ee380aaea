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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from im2.listening import bulk, dedup, lookups, retrain
from im2.listening import sentiment as sentiment_model
from im2.listening.models import InboxItem, Mention, NearDuplicateBand, Topic, TopicMatch
from im2.listening.people import author_key
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


class ScoredText(NamedTuple):
    """One text's sentiment; label and numbers are None when no model could score it."""

    label: SentimentLabel | None
    confidence: float | None
    language: str
    positive_probability: float | None = None


# What a scorer returns per text: a ScoredText, or a plain (label, confidence, language) tuple
# from a scorer that has no probability (it is then stored as unknown).
Scored = ScoredText | tuple[SentimentLabel | None, float | None, str]
Scorer = Callable[[Sequence[str]], Sequence[Scored]]


def _scored(result: sentiment_model.SentimentResult) -> ScoredText:
    return ScoredText(
        SentimentLabel(result.label.value),
        round(float(result.confidence), 4),
        result.language.value,
        round(float(result.positive_probability), 4),
    )


def _run(scorer: Scorer, texts: Sequence[str]) -> list[ScoredText]:
    scored = [ScoredText(*s) for s in scorer(texts)]
    if len(scored) != len(texts):  # zip(strict=True) would stop the import with less to go on
        raise ValueError(f"the sentiment scorer returned {len(scored)} results for {len(texts)}")
    return scored


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
        return [ScoredText(None, None, sentiment_model.detect_language(t).value) for t in texts]
    return [_scored(r) for r in results]


def _overlay_scorer(overlay: retrain.Overlay) -> Scorer:
    def score(texts: Sequence[str]) -> list[Scored]:
        return [_scored(r) for r in overlay.score(texts)]

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


def _was_cut(mention: MentionIn) -> bool:
    """Longer than a stored text, or already cut by the file reader (which keeps the length)."""
    if len(mention.text) > MAX_TEXT:
        return True
    original = mention.raw.get("_original_length")
    return type(original) is int and original > len(mention.text)


def _batch_index(group: object, own: int) -> int:
    """The batch row naming a group: ("batch", j) → j; None (a group of its own) → own."""
    if isinstance(group, tuple) and isinstance(group[1], int):
        return group[1]
    return own


@dataclass(frozen=True, slots=True)
class _Scored:
    """A batch's rows with everything worked out that needs no database: the mentions table's
    columns but the id and the group (values already processed for the driver), the topics each
    row matches and each row's inbox entry."""

    mentions: list[MentionIn]
    prepared: dedup.Prepared
    columns: dict[str, list[Any]]
    labels: list[str | None]
    minutes: list[int]
    topics: list[list[int]]
    inbox: list[tuple[list[str], str] | None]

    def subset(self, keep: list[int]) -> _Scored:
        if len(keep) == len(self.mentions):
            return self
        p = self.prepared

        def pick(values: list[Any]) -> list[Any]:
            return [values[i] for i in keep]

        return _Scored(
            pick(self.mentions),
            dedup.Prepared(pick(p.cores), pick(p.fingerprints), pick(p.bands)),
            {name: pick(values) for name, values in self.columns.items()},
            pick(self.labels),
            pick(self.minutes),
            pick(self.topics),
            pick(self.inbox),
        )


class MentionWriter:
    """Stores batches of mentions in the caller's transaction (`add`, one call per batch).

    On PostgreSQL a batch's inserts run in a writer thread while the caller's thread scores
    the next batch (language, sentiment, MinHash, topics, inbox rules: pure Python), so the
    server's work and the client's overlap. The rules are those of one batch at a time: before
    a batch looks anything up (known posts, fingerprints, band keys) the previous batch's
    writes have finished, in the same transaction, so it sees them; a failed write is raised by
    the next `add` or by leaving the `with` block, and the caller's transaction then rolls back
    as a whole. Use it as a context manager inside one transaction and touch the session only
    after the block (it waits for the last batch's writes when it ends, however it ends).

    The sentiment model, topics and settings are those of the moment it is opened.
    """

    def __init__(
        self,
        session: Session,
        *,
        workspace_id: int,
        settings: ListeningSettingsRead,
        now: datetime,
        import_id: int | None = None,
        scorer: Scorer | None = None,
        topics: list[CompiledTopic] | None = None,
        overlap: bool | None = None,
    ) -> None:
        self._session = session
        self._workspace_id = workspace_id
        self._settings = settings
        self._now = now
        self._import_id = import_id
        self._dialect = session.get_bind().dialect
        lookups.lock_workspace(session, workspace_id)
        if scorer is None:
            # The workspace's own variant retrained from its corrections, if one is active.
            # Looked up at call time, so a deployment (or a test) can swap the model in one place.
            overlay = retrain.active_overlay(session, workspace_id=workspace_id)
            scorer = _overlay_scorer(overlay) if overlay else model_scorer
        self._scorer = scorer
        self._topics = (
            compiled_topics(session, workspace_id=workspace_id) if topics is None else topics
        )
        # SQLite runs in this process and holds the GIL for much of its work: nothing to gain.
        if overlap is None:
            overlap = self._dialect.name == "postgresql"
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="im2-mentions") if overlap else None
        self._writing: Future[None] | None = None
        self._failed: BaseException | None = None
        # Scoring a batch before knowing which of its posts are new pays when they mostly are
        # (an import of new posts) and is wasted work on a re-import; the last batch decides.
        self._speculate = True

    def __enter__(self) -> MentionWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close(raise_errors=exc_type is None)

    def close(self, *, raise_errors: bool = True) -> None:
        """Wait for the last writes (re-raising their error when `raise_errors`)."""
        try:
            self._wait() if raise_errors else self._settle()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def _settle(self) -> None:
        try:
            self._wait()
        except Exception:  # the caller's own exception is the one that propagates
            log.debug("mention writes abandoned with the transaction", exc_info=True)

    def _wait(self) -> None:
        writing, self._writing = self._writing, None
        if writing is not None:
            try:
                writing.result()
            except BaseException as exc:
                self._failed = exc
                raise
        if self._failed is not None:
            raise RuntimeError("an earlier batch of this import failed") from self._failed

    def add(self, mentions: Sequence[MentionIn]) -> BatchResult:
        """Insert the new mentions of a batch; ones already stored (same platform and post id)
        are counted as duplicates and left as they are. The rows may still be on their way to
        the database when this returns; they are there once the writer is closed."""
        fresh: dict[tuple[str, str], MentionIn] = {}
        for m in mentions:
            fresh.setdefault((m.platform.value, m.post_id), m)
        early = None
        if self._speculate and self._writing is not None and not self._writing.done():
            early = self._score(list(fresh.values()))
        self._wait()
        session = self._session
        known = lookups.known_posts(session, self._workspace_id, list(fresh))
        keep = [i for i, key in enumerate(fresh) if key not in known]
        self._speculate = 2 * len(keep) >= len(fresh)
        duplicates = len(mentions) - len(keep)
        if not keep:
            return BatchResult(0, duplicates, 0, [])
        if early is not None:
            batch = early.subset(keep)
        else:
            values = list(fresh.values())
            batch = self._score([values[i] for i in keep])
        new = batch.mentions
        truncated = sum(map(_was_cut, new))

        prepared = batch.prepared
        known_bands, stored_pairs = lookups.known_bands(
            session, self._workspace_id, prepared.all_bands()
        )
        grouping = dedup.group_batch(
            prepared,
            known_fingerprints=lookups.known_fingerprints(
                session, self._workspace_id, prepared.fingerprints
            ),
            known_bands=known_bands,
        )
        # Ids first (no RETURNING needed), so a row that copies an earlier row of this same
        # batch is stored with that row's id as its group straight away.
        ids = lookups.allocate_ids(session, len(new))
        groups: list[int | None] = [
            group if isinstance(group, int) else ids[_batch_index(group, i)] if group else None
            for i, group in enumerate(grouping.groups)
        ]
        # Each row's band keys, under the id of the group it belongs to (its own when it is
        # first), for the batches still to come; pairs already stored are left out.
        band_pairs: set[tuple[int, int]] = set()
        for mention_id, group, keys in zip(ids, groups, grouping.bands, strict=True):
            if keys:
                gid = mention_id if group is None else group
                band_pairs.update((k, gid) for k in keys)
        write = self._writes(batch, ids, groups, sorted(band_pairs - stored_pairs))
        if self._pool is None:
            write()
        else:
            self._writing = self._pool.submit(write)
        return BatchResult(len(new), duplicates, truncated, ids)

    def _score(self, new: list[MentionIn]) -> _Scored:
        dialect = self._dialect
        texts = [m.text[:MAX_TEXT] for m in new]
        # Sentiment and duplicate grouping both start from NFKC; one pass serves both.
        normalised = sentiment_model.nfkc_batch(texts)
        scored = _run(self._scorer, normalised)
        prepared = dedup.prepare(normalised)
        raws: list[dict[str, Any]] = []
        for m in new:
            raw = dict(m.raw)
            if len(m.text) > MAX_TEXT:
                raw.setdefault("_original_length", len(m.text))
            raws.append(raw)
        labels = [s.label.value if s.label else None for s in scored]
        languages = [s.language for s in scored]
        minutes = [int(m.posted_at.timestamp() // 60) for m in new]
        platforms = [m.platform.value for m in new]
        authors = [m.author for m in new]
        columns: dict[str, list[Any]] = {
            "platform": platforms,
            "post_id": [m.post_id for m in new],
            "url": [m.url for m in new],
            "author": authors,
            "author_key": [author_key(a) for a in authors],
            "author_followers": [m.author_followers for m in new],
            "text": texts,
            "language": languages,
            "posted_at": [m.posted_at for m in new],
            "posted_minute": minutes,
            "likes": [m.likes for m in new],
            "reposts": [m.reposts for m in new],
            "comments": [m.comments for m in new],
            "sentiment": labels,
            "sentiment_confidence": [s.confidence for s in scored],
            "sentiment_positive_probability": [s.positive_probability for s in scored],
            "fingerprint": prepared.fingerprints,
            "raw": raws,
        }
        columns = {
            name: bulk.processed(dialect, MENTIONS, name, values)
            for name, values in columns.items()
        }
        topics: list[list[int]] = []
        for i in range(len(new)):
            fields = fields_of(
                text=texts[i],
                author=authors[i],
                platform=platforms[i],
                language=languages[i],
                sentiment=labels[i],
            )
            topics.append([topic.id for topic in self._topics if topic.matcher(fields)])
        inbox: list[tuple[list[str], str] | None] = []
        oldest = self._now - INBOX_MAX_AGE
        for m, s in zip(new, scored, strict=True):
            reasons, priority = (
                inbox_reasons(m, s.label, s.confidence, self._settings)
                if m.posted_at >= oldest
                else ([], Priority.LOW)
            )
            inbox.append(([r.value for r in reasons], priority.value) if reasons else None)
        return _Scored(new, prepared, columns, labels, minutes, topics, inbox)

    def _writes(
        self,
        batch: _Scored,
        ids: list[int],
        groups: list[int | None],
        band_pairs: list[tuple[int, int]],
    ) -> Callable[[], None]:
        """The batch's inserts as one call that touches only the driver connection (so that
        a writer thread can run it). Values are processed here, on the caller's thread."""
        dialect = self._dialect
        ws = self._workspace_id
        mention_same = {
            "workspace_id": ws,
            "sentiment_corrected": False,
            "import_id": self._import_id,
            "created_at": self._now,
        }
        mention_columns: dict[str, list[Any]] = {"id": ids, "duplicate_group": groups}
        matches: dict[str, list[Any]] = {
            "topic_id": [],
            "mention_id": [],
            "posted_minute": [],
            "sentiment": [],
        }
        for mention_id, hits, minute, label in zip(
            ids, batch.topics, batch.minutes, batch.labels, strict=True
        ):
            for topic_id in hits:
                matches["topic_id"].append(topic_id)
                matches["mention_id"].append(mention_id)
                matches["posted_minute"].append(minute)
                matches["sentiment"].append(label)
        inbox: dict[str, list[Any]] = {"mention_id": [], "reasons": [], "priority": []}
        for mention_id, entry in zip(ids, batch.inbox, strict=True):
            if entry is not None:
                inbox["mention_id"].append(mention_id)
                inbox["reasons"].append(entry[0])
                inbox["priority"].append(entry[1])
        first_limit = timedelta(minutes=self._settings.escalation_ladder[0].minutes)
        inbox_same = {
            "workspace_id": ws,
            "status": InboxStatus.NEW.value,
            "escalation_step": 0,
            "step_due_at": self._now + first_limit,
            "created_at": self._now,
            "updated_at": self._now,
        }
        tables: list[tuple[Table, dict[str, list[Any]], dict[str, Any]]] = [
            (MENTIONS, mention_columns, mention_same),
            (MATCHES, matches, {}),
            (INBOX, inbox, inbox_same),
        ]
        rows = [
            (
                table,
                {name: bulk.processed(dialect, table, name, v) for name, v in columns.items()},
                {name: bulk.processed_one(dialect, table, name, v) for name, v in same.items()},
            )
            for table, columns, same in tables
            if next(iter(columns.values()))
        ]
        rows[0][1].update(batch.columns)  # processed when the batch was scored
        driver = bulk.driver_of(self._session.connection())
        name = dialect.name

        def write() -> None:
            for table, columns, same in rows:
                bulk.write_rows(driver, name, table, columns, same)
                if table is MENTIONS:
                    bulk.write_bands(driver, name, BANDS, ws, band_pairs)

        return write


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
    """Insert the new mentions of one batch; ones already stored (same platform and post id)
    are counted as duplicates and left as they are. Caller owns the transaction. For many
    batches in one transaction, `MentionWriter` overlaps each batch's writes with the next."""
    with MentionWriter(
        session,
        workspace_id=workspace_id,
        settings=settings,
        now=now,
        import_id=import_id,
        scorer=scorer,
        topics=topics,
        overlap=False,
    ) as writer:
        return writer.add(mentions)


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
    scored = _run(scorer or model_scorer, [t for _id, t in rows])
    updates = [
        {
            "mid": mention_id,
            "label": s.label.value,
            "conf": s.confidence,
            "pp": s.positive_probability,
        }
        for (mention_id, _text), s in zip(rows, scored, strict=True)
        if s.label is not None
    ]
    if updates:
        mentions, matches = MENTIONS, MATCHES
        session.execute(
            update(mentions)
            .where(mentions.c.id == bindparam("mid"))
            .values(
                sentiment=bindparam("label"),
                sentiment_confidence=bindparam("conf"),
                sentiment_positive_probability=bindparam("pp"),
            ),
            updates,
        )
        session.execute(
            update(matches)
            .where(matches.c.mention_id == bindparam("mid"))
            .values(sentiment=bindparam("label")),
            [{"mid": u["mid"], "label": u["label"]} for u in updates],
        )
    return len(updates)
