"""RSS and Atom feeds as a source of mentions: registered per workspace, polled by a job.

Fetching happens outside any transaction (a slow feed must not hold the database); the
entries are then stored like any other batch, idempotent by the entry's id (or link).
"""

from __future__ import annotations

import calendar
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import feedparser  # type: ignore[import-untyped]
import httpx
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2 import outbound
from im2.errors import Conflict
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.listening import outcomes, reach
from im2.listening.ingest import Scorer, store_mentions
from im2.listening.models import Feed
from im2.listening.schemas import FeedCreate, FeedRead, MentionIn, Platform
from im2.listening.workspace_settings import load_settings
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import owned_row, record_audit, require

_TAGS = re.compile(r"<[^>]+>")
# Busy news feeds are a few hundred kilobytes; what is much bigger is not a feed to poll.
MAX_FEED_BYTES: Final = 10 * 1024 * 1024
MAX_REDIRECTS: Final = 5
TIMEOUT_SECONDS: Final = 15


def do_add_feed(
    session: Session,
    *,
    actor: Actor,
    data: FeedCreate,
    now: datetime,
    private_networks: bool | None = None,
) -> FeedRead:
    """Follow a feed. Addresses that are not on the public internet are refused unless
    `private_networks` (default: the settings' choice)."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    url = reach.check_feed_url(
        data.url, private_networks=reach.private_networks_allowed(private_networks)
    )
    data = data.model_copy(update={"url": url})
    feed = Feed(
        workspace_id=actor.workspace_id,
        url=url,
        platform=data.platform.value,
        interval_minutes=data.interval_minutes,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(feed)
            session.flush()
    except IntegrityError:
        raise Conflict(_("This feed is already followed."), field="url") from None
    record_audit(
        session,
        actor,
        "listening.feed.add",
        ("feed", feed.id),
        _("Feed added: {url}").format(url=data.url),
        now=now,
        after=data.model_dump(mode="json"),
    )
    return FeedRead.model_validate(feed)


def list_feeds(session: Session, *, actor: Actor) -> list[FeedRead]:
    require(actor, Permission.READ_CAMPAIGNS)
    rows = session.scalars(
        select(Feed).where(Feed.workspace_id == actor.workspace_id).order_by(Feed.id)
    )
    return [FeedRead.model_validate(f) for f in rows]


def _feed(session: Session, *, actor: Actor, feed_id: int) -> Feed:
    feed = owned_row(session, Feed, feed_id, actor=actor, missing=_("Feed not found."))
    return feed


def do_remove_feed(session: Session, *, actor: Actor, feed_id: int, now: datetime) -> None:
    """Stop following a feed; the mentions it brought in stay."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    feed = _feed(session, actor=actor, feed_id=feed_id)
    before = FeedRead.model_validate(feed).model_dump(mode="json")
    session.delete(feed)
    session.flush()
    record_audit(
        session,
        actor,
        "listening.feed.remove",
        ("feed", feed_id),
        _("Feed removed: {url}").format(url=before["url"]),
        now=now,
        before=before,
    )


def feed_to_poll(session: Session, *, actor: Actor, feed_id: int) -> DueFeed:
    """A feed of the actor's workspace to poll now, whether or not it is due."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    f = _feed(session, actor=actor, feed_id=feed_id)
    return DueFeed(f.id, f.workspace_id, f.url, Platform(f.platform), f.etag, f.modified)


@dataclass(frozen=True, slots=True)
class DueFeed:
    id: int
    workspace_id: int
    url: str
    platform: Platform
    etag: str | None
    modified: str | None


def due_feeds(session: Session, *, now: datetime) -> list[DueFeed]:
    feeds = session.scalars(select(Feed).order_by(Feed.id))
    return [
        DueFeed(f.id, f.workspace_id, f.url, Platform(f.platform), f.etag, f.modified)
        for f in feeds
        if f.last_polled_at is None
        or f.last_polled_at + timedelta(minutes=f.interval_minutes) <= now
    ]


@dataclass(frozen=True, slots=True)
class Fetched:
    status: int
    body: bytes
    etag: str | None
    modified: str | None
    error: str | None


def fetch(feed: DueFeed, *, private_networks: bool | None = None) -> Fetched:
    """GET the feed, never raising. Redirects are followed by hand (at most MAX_REDIRECTS), so
    that each address is checked like the first; bodies over MAX_FEED_BYTES are not read.
    Problems are recorded as codes (`outcomes`) for the console to put into words."""
    allow_private = reach.private_networks_allowed(private_networks)
    headers = {"User-Agent": "IM2 listening (+https://github.com/im2)"}
    if feed.etag:
        headers["If-None-Match"] = feed.etag
    if feed.modified:
        headers["If-Modified-Since"] = feed.modified
    url = feed.url
    try:
        with httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
            for _hop in range(MAX_REDIRECTS + 1):
                # The feed's URL and every redirect are read by the one parser, and the
                # canonical spelling it checked is the one requested.
                try:
                    target = outbound.parse_url(url)
                except outbound.UnusableUrl:
                    return _failed(outcomes.refused(url[:200]))
                address = None if allow_private else reach.refused(target.host, target.port)
                if address:
                    return _failed(outcomes.refused(address))
                with client.stream("GET", target.url, headers=headers) as response:
                    location = response.headers.get("Location")
                    if response.is_redirect and location:
                        url = str(response.url.join(location))
                        continue
                    return _read(response)
    except httpx.HTTPError as exc:
        return _failed(f"{exc.__class__.__name__}: {exc}"[:500])
    except ValueError as exc:  # a redirect httpx cannot join, a header it cannot encode
        return _failed(f"{exc.__class__.__name__}: {exc}"[:500])
    return _failed(outcomes.TOO_MANY_REDIRECTS)


def _failed(error: str) -> Fetched:
    return Fetched(0, b"", None, None, error)


def _read(response: httpx.Response) -> Fetched:
    """The body of a final answer, up to MAX_FEED_BYTES (after decompression, so a small
    gzip bomb is as large as what it unpacks to)."""
    if response.status_code not in (200, 304):
        return Fetched(response.status_code, b"", None, None, f"HTTP {response.status_code}")
    too_large = f"{outcomes.TOO_LARGE}: {MAX_FEED_BYTES // 2**20} MB"
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_FEED_BYTES:
        return Fetched(response.status_code, b"", None, None, too_large)
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > MAX_FEED_BYTES:
            return Fetched(response.status_code, b"", None, None, too_large)
    return Fetched(
        response.status_code,
        bytes(body),
        response.headers.get("ETag"),
        response.headers.get("Last-Modified"),
        None,
    )


def _entry_time(entry: Any, now: datetime) -> datetime:
    for key in ("published_parsed", "updated_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
            except (OverflowError, OSError, ValueError):
                continue
    return now


def parse_entries(body: bytes, platform: Platform, now: datetime) -> list[MentionIn] | None:
    """The feed's entries as mentions; None when the body is not an RSS or Atom feed at all
    (an HTML page, a JSON answer)."""
    parsed = feedparser.parse(body)
    if not parsed.get("version"):
        return None
    mentions = []
    for entry in parsed.entries:
        post_id = str(entry.get("id") or entry.get("link") or "")
        title = str(entry.get("title") or "")
        summary = html.unescape(_TAGS.sub(" ", str(entry.get("summary") or "")))
        text = "\n".join(t for t in (title.strip(), " ".join(summary.split())) if t)
        if not post_id or not text:
            continue
        link = str(entry.get("link") or "")
        try:
            mention = MentionIn(
                platform=platform,
                post_id=post_id[:128],
                text=text,
                url=link[:1024] if link.startswith(("http://", "https://")) else None,
                author=str(entry.get("author") or parsed.feed.get("title") or "")[:200],
                posted_at=_entry_time(entry, now),
                raw={"feed": str(parsed.feed.get("title") or ""), "link": link},
            )
        except ValidationError:  # nothing left once control characters go, or absurdly long
            continue
        mentions.append(mention)
    return mentions


def do_record_poll_failure(session: Session, *, feed_id: int, error: str, now: datetime) -> None:
    """A poll that failed unexpectedly: shown on the feed, and retried after its interval
    like any failed poll (not at every tick)."""
    row = session.get(Feed, feed_id)
    if row is not None:
        row.last_polled_at = now
        row.last_error = error


def do_store_feed_result(
    session: Session,
    *,
    feed: DueFeed,
    fetched: Fetched,
    now: datetime,
    scorer: Scorer | None = None,
) -> int:
    """Record the poll and store the new entries; returns how many mentions were new."""
    row = session.get(Feed, feed.id)
    if row is None:  # removed while we were fetching
        return 0
    row.last_polled_at = now
    row.last_error = fetched.error
    if fetched.error or fetched.status != 200:
        return 0
    mentions = parse_entries(fetched.body, feed.platform, now)
    if mentions is None:
        row.last_error = outcomes.NOT_A_FEED
        return 0
    row.etag, row.modified = fetched.etag, fetched.modified
    if not mentions:
        return 0
    result = store_mentions(
        session,
        workspace_id=feed.workspace_id,
        mentions=mentions,
        settings=load_settings(session, workspace_id=feed.workspace_id),
        now=now,
        scorer=scorer,
    )
    if result.imported:
        record_event(
            session,
            kind=EventKind.MENTIONS_IMPORTED,
            occurred_at=now,
            workspace_id=feed.workspace_id,
            actor_type=ActorType.SYSTEM,
            actor_id=None,
            channel="feed",
            properties={
                "feed_id": feed.id,
                "imported": result.imported,
                "duplicates": result.duplicates,
            },
        )
    return result.imported
