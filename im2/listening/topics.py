"""Listening topics (boolean queries), their matches, and the dashboards built on them.

A topic's matches are computed when mentions arrive and when the topic is created or its
query changes (a backfill over the stored mentions), so dashboards only count index rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import case, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.errors import Conflict, InvalidInput
from im2.i18n import _
from im2.listening.ingest import MATCHES
from im2.listening.models import Mention, Topic, TopicMatch
from im2.listening.query import QueryError, compile_query, fields_of
from im2.listening.schemas import (
    Dashboard,
    SentimentLabel,
    ShareOfVoice,
    TimelinePoint,
    TopicCreate,
    TopicKind,
    TopicRead,
    TopicUpdate,
)
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import owned_row, record_audit, require

BACKFILL_CHUNK: Final = 5000


def check_query(query: str) -> None:
    """Raises InvalidInput saying where the query stops making sense."""
    try:
        compile_query(query)
    except QueryError as exc:
        raise InvalidInput(
            _("The query is not valid at position {pos}: {message}").format(
                pos=exc.position + 1, message=exc.message
            ),
            field="query",
        ) from None


def _read(topic: Topic, mentions: int = 0) -> TopicRead:
    read = TopicRead.model_validate(topic)
    read.mentions = mentions
    return read


def owned_topic(session: Session, *, actor: Actor, topic_id: int) -> Topic:
    topic = owned_row(session, Topic, topic_id, actor=actor, missing=_("Topic not found."))
    return topic


def _backfill(session: Session, topic: Topic) -> int:
    """Match the topic against every stored mention of its workspace, in chunks."""
    session.execute(delete(TopicMatch).where(TopicMatch.topic_id == topic.id))
    matcher = compile_query(topic.query)
    matched = 0
    last_id = 0
    columns = (
        Mention.id,
        Mention.text,
        Mention.author,
        Mention.platform,
        Mention.language,
        Mention.sentiment,
        Mention.posted_minute,
    )
    while True:
        rows = session.execute(
            select(*columns)
            .where(Mention.workspace_id == topic.workspace_id, Mention.id > last_id)
            .order_by(Mention.id)
            .limit(BACKFILL_CHUNK)
        ).all()
        if not rows:
            return matched
        last_id = rows[-1][0]
        found = [
            {"topic_id": topic.id, "mention_id": r[0], "posted_minute": r[6], "sentiment": r[5]}
            for r in rows
            if matcher(
                fields_of(text=r[1], author=r[2], platform=r[3], language=r[4], sentiment=r[5])
            )
        ]
        if found:
            session.execute(MATCHES.insert(), found)
            matched += len(found)


def _flush_unique(session: Session, topic: Topic) -> None:
    try:
        with session.begin_nested():
            session.add(topic)
            session.flush()
    except IntegrityError:
        raise Conflict(_("Another topic already has this name."), field="name") from None


def do_create_topic(
    session: Session, *, actor: Actor, data: TopicCreate, now: datetime
) -> TopicRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    check_query(data.query)
    topic = Topic(
        workspace_id=actor.workspace_id,
        name=data.name.strip(),
        query=data.query.strip(),
        kind=data.kind.value,
        alerts_enabled=data.alerts_enabled,
        sensitivity=data.sensitivity.value,
        cooldown_minutes=data.cooldown_minutes,
        created_at=now,
        updated_at=now,
    )
    _flush_unique(session, topic)
    matched = _backfill(session, topic)
    record_audit(
        session,
        actor,
        "listening.topic.create",
        ("topic", topic.id),
        _("Topic “{name}” created").format(name=topic.name),
        now=now,
        after=data.model_dump(mode="json"),
    )
    return _read(topic, matched)


def do_update_topic(
    session: Session, *, actor: Actor, topic_id: int, data: TopicUpdate, now: datetime
) -> TopicRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    topic = owned_topic(session, actor=actor, topic_id=topic_id)
    before = _read(topic).model_dump(mode="json", exclude={"mentions"})
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "query" in changes:
        check_query(changes["query"])
    for key, value in changes.items():
        setattr(topic, key, value.value if hasattr(value, "value") else value)
    topic.updated_at = now
    _flush_unique(session, topic)
    if "query" in changes and changes["query"] != before["query"]:
        _backfill(session, topic)
    record_audit(
        session,
        actor,
        "listening.topic.update",
        ("topic", topic.id),
        _("Topic “{name}” changed").format(name=topic.name),
        now=now,
        before=before,
        after=_read(topic).model_dump(mode="json", exclude={"mentions"}),
    )
    return _read(topic, _count(session, topic.id))


def do_delete_topic(session: Session, *, actor: Actor, topic_id: int, now: datetime) -> None:
    require(actor, Permission.WRITE_CAMPAIGNS)
    topic = owned_topic(session, actor=actor, topic_id=topic_id)
    record_audit(
        session,
        actor,
        "listening.topic.delete",
        ("topic", topic.id),
        _("Topic “{name}” deleted").format(name=topic.name),
        now=now,
        before={"name": topic.name, "query": topic.query},
    )
    session.execute(delete(TopicMatch).where(TopicMatch.topic_id == topic.id))
    session.delete(topic)


def _count(session: Session, topic_id: int) -> int:
    return int(session.scalar(select(func.count()).where(TopicMatch.topic_id == topic_id)) or 0)


def list_topics(session: Session, *, actor: Actor) -> list[TopicRead]:
    require(actor, Permission.READ_CAMPAIGNS)
    topics = session.scalars(
        select(Topic).where(Topic.workspace_id == actor.workspace_id).order_by(Topic.name)
    ).all()
    return [_read(t, _count(session, t.id)) for t in topics]


def get_topic(session: Session, *, actor: Actor, topic_id: int) -> TopicRead:
    require(actor, Permission.READ_CAMPAIGNS)
    topic = owned_topic(session, actor=actor, topic_id=topic_id)
    return _read(topic, _count(session, topic.id))


# --- dashboards -----------------------------------------------------------------------------


def minute_of(when: datetime) -> int:
    return int(when.timestamp() // 60)


def dashboard(
    session: Session,
    *,
    actor: Actor,
    topic_id: int | None,
    since: datetime,
    until: datetime,
) -> Dashboard:
    """Volume and sentiment over time (hourly up to three days, daily beyond) and share of
    voice between the brand and its competitors, for mentions posted in [since, until)."""
    require(actor, Permission.READ_CAMPAIGNS)
    if until <= since:
        raise InvalidInput(_("The end must be after the start."), field="until")
    bucket = 60 if until - since <= timedelta(days=3) else 24 * 60
    lo, hi = minute_of(since), minute_of(until)
    if topic_id is not None:
        owned_topic(session, actor=actor, topic_id=topic_id)
        table = TopicMatch
        scope = TopicMatch.topic_id == topic_id
    else:
        table = Mention  # type: ignore[assignment]
        scope = Mention.workspace_id == actor.workspace_id
    # Counted per (minute, sentiment) first, in the covering index's own order (no sort), then
    # per bucket: grouping a million rows by bucket directly made SQLite sort all of them.
    per_minute = (
        select(table.posted_minute, table.sentiment, func.count().label("n"))
        .where(scope, table.posted_minute >= lo, table.posted_minute < hi)
        .group_by(table.posted_minute, table.sentiment)
        .subquery()
    )
    slot = (per_minute.c.posted_minute // bucket).label("slot")
    rows = session.execute(
        select(slot, per_minute.c.sentiment, func.sum(per_minute.c.n)).group_by(
            slot, per_minute.c.sentiment
        )
    ).all()
    points: dict[int, dict[str, int]] = {}
    for s, sentiment, n in rows:
        point = points.setdefault(int(s), {"positive": 0, "neutral": 0, "negative": 0})
        if sentiment in point:
            point[sentiment] += int(n)
        else:
            point["neutral"] += int(n)  # not scored yet: neither side
    timeline = []
    for s in range(lo // bucket, (hi - 1) // bucket + 1):
        p = points.get(s, {"positive": 0, "neutral": 0, "negative": 0})
        timeline.append(
            TimelinePoint(
                start=datetime.fromtimestamp(s * bucket * 60, UTC), total=sum(p.values()), **p
            )
        )
    return Dashboard(
        topic_id=topic_id,
        bucket_minutes=bucket,
        timeline=timeline,
        share_of_voice=share_of_voice(session, actor=actor, lo=lo, hi=hi),
        total=sum(t.total for t in timeline),
    )


def share_of_voice(session: Session, *, actor: Actor, lo: int, hi: int) -> list[ShareOfVoice]:
    topics = session.execute(
        select(Topic.id, Topic.name, Topic.kind).where(
            Topic.workspace_id == actor.workspace_id,
            Topic.kind.in_([TopicKind.BRAND.value, TopicKind.COMPETITOR.value]),
        )
    ).all()
    if not topics:
        return []
    negative = func.sum(case((TopicMatch.sentiment == SentimentLabel.NEGATIVE.value, 1), else_=0))
    counts = {
        topic: (int(n), int(neg or 0))
        for topic, n, neg in session.execute(
            select(TopicMatch.topic_id, func.count(), negative)
            .where(
                TopicMatch.topic_id.in_([t[0] for t in topics]),
                TopicMatch.posted_minute >= lo,
                TopicMatch.posted_minute < hi,
            )
            .group_by(TopicMatch.topic_id)
        )
    }
    total = sum(n for n, _neg in counts.values())
    result = []
    for topic_id, name, kind in topics:
        n, neg = counts.get(topic_id, (0, 0))
        result.append(
            ShareOfVoice(
                topic_id=topic_id,
                name=name,
                kind=TopicKind(kind),
                mentions=n,
                share=n / total if total else 0.0,
                negative_share=neg / n if n else 0.0,
            )
        )
    return sorted(result, key=lambda s: (s.kind is not TopicKind.BRAND, -s.mentions))
