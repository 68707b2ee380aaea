"""Tables of the listening domain: mentions, imports, topics, alerts and the response inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class Mention(Base):
    __tablename__ = "listening_mentions"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    post_id: Mapped[str] = mapped_column(String(128))
    url: Mapped[str | None] = mapped_column(String(1024))
    author: Mapped[str] = mapped_column(String(200), default="")
    # The author as a handle, case-folded (`im2.listening.people.author_key`), set at ingest:
    # people's profiles find the mentions of their social accounts through the index below.
    author_key: Mapped[str] = mapped_column(String(200), default="", server_default="")
    author_followers: Mapped[int] = mapped_column(BigInteger, default=0)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    posted_at: Mapped[datetime]
    # Minutes since the epoch: dashboards and the spike detector group by it with plain integer
    # arithmetic, which is the same SQL on SQLite and PostgreSQL and uses the index below.
    posted_minute: Mapped[int] = mapped_column(BigInteger)
    likes: Mapped[int] = mapped_column(BigInteger, default=0)
    reposts: Mapped[int] = mapped_column(BigInteger, default=0)
    comments: Mapped[int] = mapped_column(BigInteger, default=0)
    sentiment: Mapped[str | None] = mapped_column(String(16))
    sentiment_confidence: Mapped[float | None] = mapped_column(Float)
    # The model's calibrated P(positive), 0..1 (NULL for mentions stored before it was kept).
    sentiment_positive_probability: Mapped[float | None] = mapped_column(Float)
    sentiment_corrected: Mapped[bool] = mapped_column(Boolean, default=False)
    # Id of the first mention of its repost / near-duplicate group (itself when it is first).
    duplicate_group: Mapped[int | None] = mapped_column(BigInteger)
    fingerprint: Mapped[str] = mapped_column(String(32))
    import_id: Mapped[int | None] = mapped_column(
        ForeignKey("listening_imports.id", ondelete="SET NULL")
    )
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("workspace_id", "platform", "post_id"),
        Index("ix_listening_mentions_ws_minute", "workspace_id", "posted_minute", "sentiment"),
        Index("ix_listening_mentions_ws_fingerprint", "workspace_id", "fingerprint"),
        Index("ix_listening_mentions_author", "workspace_id", "platform", "author_key"),
    )


class ColumnMapping(Base):
    """A saved mapping from a file's columns to mention fields (presets live in code)."""

    __tablename__ = "listening_column_mappings"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("workspace_id", "name"),)


class MentionImport(Base):
    """One file import and its report (what came in, what was refused and why)."""

    __tablename__ = "listening_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    file_format: Mapped[str] = mapped_column(String(8))
    mapping: Mapped[str] = mapped_column(String(64))
    encoding: Mapped[str] = mapped_column(String(32))
    rows: Mapped[int] = mapped_column(default=0)
    imported: Mapped[int] = mapped_column(default=0)
    duplicates: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    truncated: Mapped[int] = mapped_column(default=0)
    # [{"line": n, "message": "..."}], the first few hundred only (the count is in `failed`).
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime]
    # Committed batch by batch: `rows` (read so far), `imported` etc. are the progress, and
    # a crashed import of the same file (same SHA-256) resumes after its last committed batch.
    sha256: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="done", server_default="done")
    finished_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_listening_imports_ws_sha256", "workspace_id", "sha256"),)


class Feed(Base):
    __tablename__ = "listening_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(1024))
    platform: Mapped[str] = mapped_column(String(32), default="rss")
    interval_minutes: Mapped[int] = mapped_column(default=15)
    etag: Mapped[str | None] = mapped_column(String(255))
    modified: Mapped[str | None] = mapped_column(String(64))
    last_polled_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("workspace_id", "url"),)


class Topic(Base):
    __tablename__ = "listening_topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(Text)
    # brand | competitor | other: brand and competitors make up share of voice.
    kind: Mapped[str] = mapped_column(String(16), default="other")
    alerts_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    sensitivity: Mapped[str] = mapped_column(String(8), default="medium")
    cooldown_minutes: Mapped[int] = mapped_column(default=360)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("workspace_id", "name"),)


class TopicMatch(Base):
    __tablename__ = "listening_topic_matches"

    topic_id: Mapped[int] = mapped_column(
        ForeignKey("listening_topics.id", ondelete="CASCADE"), primary_key=True
    )
    mention_id: Mapped[int] = mapped_column(
        ForeignKey("listening_mentions.id", ondelete="CASCADE"), primary_key=True
    )
    # Copies of the mention's minute and sentiment so a topic dashboard reads one index only;
    # a sentiment correction updates both places.
    posted_minute: Mapped[int] = mapped_column(BigInteger)
    sentiment: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        Index("ix_listening_topic_matches_topic_minute", "topic_id", "posted_minute", "sentiment"),
        Index("ix_listening_topic_matches_mention", "mention_id"),
    )


class ListeningSettings(Base):
    """Per-workspace listening settings: delivery, crisis plan, inbox rules, escalation ladder."""

    __tablename__ = "listening_settings"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    webhook_url: Mapped[str | None] = mapped_column(String(1024))
    alert_emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    crisis_contacts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    crisis_steps: Mapped[list[str]] = mapped_column(JSON, default=list)
    vip_followers: Mapped[int] = mapped_column(BigInteger, default=100_000)
    inbox_keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    smtp_host: Mapped[str | None] = mapped_column(String(255))
    smtp_port: Mapped[int] = mapped_column(default=25)
    smtp_sender: Mapped[str] = mapped_column(String(254), default="im2-alerts@localhost")
    # [{"name": "...", "minutes": n}], in order; an item past its step's limit moves up.
    escalation_ladder: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime]


class Alert(Base):
    __tablename__ = "listening_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    topic_id: Mapped[int | None] = mapped_column(
        ForeignKey("listening_topics.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(16))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    observed: Mapped[float] = mapped_column(Float)
    baseline: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    mentions: Mapped[int] = mapped_column(default=0)
    negative_share: Mapped[float] = mapped_column(Float, default=0.0)
    top_terms: Mapped[list[Any]] = mapped_column(JSON, default=list)
    samples: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    top_authors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    crisis_plan: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # {"webhook": "sent" | "failed: ..." | "none", "email": ...}
    delivery: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    acknowledged_at: Mapped[datetime | None]
    raised_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_listening_alerts_ws_raised", "workspace_id", "raised_at"),
        Index("ix_listening_alerts_topic_kind", "topic_id", "kind", "raised_at"),
    )


class InboxItem(Base):
    __tablename__ = "listening_inbox_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    mention_id: Mapped[int] = mapped_column(
        ForeignKey("listening_mentions.id", ondelete="CASCADE"), unique=True
    )
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    status: Mapped[str] = mapped_column(String(16), default="new")
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    assignee_label: Mapped[str | None] = mapped_column(String(254))
    escalation_step: Mapped[int] = mapped_column(default=0)
    step_due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_listening_inbox_ws_status", "workspace_id", "status", "priority"),
        Index("ix_listening_inbox_due", "status", "step_due_at"),
    )


class InboxNote(Base):
    __tablename__ = "listening_inbox_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("listening_inbox_items.id", ondelete="CASCADE"), index=True
    )
    # note (internal) | reply (what was sent to the author) | system (escalations)
    kind: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime]


class ReplyTemplate(Base):
    __tablename__ = "listening_reply_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("workspace_id", "name"),)


class SentimentCorrection(Base):
    """A brand's correction of a mention's sentiment, kept (with the text) for retraining."""

    __tablename__ = "listening_sentiment_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    mention_id: Mapped[int | None] = mapped_column(
        ForeignKey("listening_mentions.id", ondelete="SET NULL")
    )
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    model_label: Mapped[str | None] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(16))
    corrected_by: Mapped[str] = mapped_column(String(254))
    corrected_at: Mapped[datetime]


class NearDuplicateBand(Base):
    """MinHash LSH band keys of stored mentions (see `dedup`), so a near copy arriving in a
    later batch finds its group with one indexed lookup. One row per (band key, group); the
    primary key is the lookup index (no separate rowid table on SQLite)."""

    __tablename__ = "listening_near_duplicate_bands"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    band_key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The id of the group's first mention.
    group_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)

    __table_args__ = ({"sqlite_with_rowid": False},)


class SentimentVariant(Base):
    """A workspace's sentiment model retrained from its corrections: the shipped model's score
    plus learned feature weights (`overlay`), with its accuracy before and after on held-out
    corrections. At most one variant per workspace is active; new mentions use it."""

    __tablename__ = "listening_sentiment_variants"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    # {"shipped_weight": w0, "bias": b, "features": {feature: weight}, "shipped_model": "..."}
    overlay: Mapped[dict[str, Any]] = mapped_column(JSON)
    corrections: Mapped[int]  # corrections that existed when it was trained
    train_rows: Mapped[int]
    test_rows: Mapped[int]
    accuracy_before: Mapped[float] = mapped_column(Float)
    accuracy_after: Mapped[float] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_listening_sentiment_variants_ws", "workspace_id", "id"),
        Index(
            "uq_listening_sentiment_variants_active",
            "workspace_id",
            unique=True,
            sqlite_where=sql_text("active"),
            postgresql_where=sql_text("active"),
        ),
    )
