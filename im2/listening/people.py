"""Mentions matched to a person's social accounts: what the people profile's timeline, the
data-subject export and erasure read and change of the listening domain.

A mention matches an account when its platform is the account's platform and its author,
normalised the way the account's handle was (surrounding spaces and leading @ dropped, lower
case on platforms whose handles ignore case), is the handle. People sit above listening, so
they call these functions with the accounts they hold: (platform, handle) pairs, the handles
already normalised by `im2.people.schemas.normalise_handle`.

Each mention stores its author as a case-folded handle (`author_key`, set at ingest, indexed
with the workspace and platform): a read looks up the handles' keys, then, on platforms whose
handles keep their case, compares the author as written among the few rows found.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select, true, update
from sqlalchemy.orm import Session

from im2.listening.models import Alert, Mention, SentimentCorrection

# Leading @ characters a handle may be written with (half and full width).
_AT = "@＠"


@dataclass(frozen=True, slots=True)
class AccountMention:
    """A mention matched to one of a person's accounts."""

    id: int
    platform: str
    post_id: str
    url: str | None
    author: str
    text: str
    language: str
    posted_at: datetime
    likes: int
    reposts: int
    comments: int
    sentiment: str | None


def author_key(author: str) -> str:
    """The author as a handle, whatever the platform: stripped, leading @ dropped, case-folded.
    Stored with each mention (`Mention.author_key`); a handle of a platform that ignores case
    equals its key."""
    return author.strip().lstrip(_AT).strip().casefold()[:200]


def _author_as_written() -> ColumnElement[str]:
    """The mention's author as a handle that keeps its case: trimmed, leading @ dropped."""
    return func.trim(func.ltrim(func.trim(Mention.author), _AT))


def _matching(
    workspace_id: int, accounts: Sequence[tuple[str, str]], case_folded: Collection[str]
) -> ColumnElement[bool] | None:
    by_platform: dict[str, set[str]] = {}
    for platform, handle in accounts:
        by_platform.setdefault(platform, set()).add(handle)
    if not by_platform:
        return None
    return or_(
        *(
            and_(
                Mention.workspace_id == workspace_id,
                Mention.platform == platform,
                Mention.author_key.in_(sorted({author_key(h) for h in handles})),
                # Where case matters, the author as written (on the rows the key found).
                true() if platform in case_folded else _author_as_written().in_(sorted(handles)),
            )
            for platform, handles in sorted(by_platform.items())
        )
    )


def account_mentions(
    session: Session,
    *,
    workspace_id: int,
    accounts: Sequence[tuple[str, str]],
    case_folded: Collection[str],
    before: tuple[datetime, int | None] | None = None,
    limit: int | None = None,
) -> list[AccountMention]:
    """The workspace's mentions posted by these accounts, newest first (by posting time, then
    id). `before` continues a page: mentions older than the time, or as old with a lower id
    (every mention of that time when the id is None)."""
    where = _matching(workspace_id, accounts, case_folded)
    if where is None:
        return []
    query = select(Mention).where(where)
    if before is not None:
        at, last_id = before
        query = query.where(
            Mention.posted_at <= at
            if last_id is None
            else or_(Mention.posted_at < at, and_(Mention.posted_at == at, Mention.id < last_id))
        )
    query = query.order_by(Mention.posted_at.desc(), Mention.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [
        AccountMention(
            id=m.id,
            platform=m.platform,
            post_id=m.post_id,
            url=m.url,
            author=m.author,
            text=m.text,
            language=m.language,
            posted_at=m.posted_at,
            likes=int(m.likes or 0),
            reposts=int(m.reposts or 0),
            comments=int(m.comments or 0),
            sentiment=m.sentiment,
        )
        for m in session.scalars(query)
    ]


def _handle(platform: str, author: str, folded: Collection[str]) -> str:
    """An author as a handle, as the match reads it (in Python)."""
    return author_key(author) if platform in folded else author.strip().lstrip(_AT).strip()


def _scrub_alerts(
    session: Session,
    *,
    workspace_id: int,
    ids: Sequence[int],
    accounts: Sequence[tuple[str, str]],
    folded: Collection[str],
) -> None:
    """Alerts keep copies of the posts they quoted (`samples`) and of their loudest authors
    (`top_authors`): the blanked mentions' copies are blanked too. Only alerts raised since the
    oldest of them can quote them."""
    oldest = session.scalar(select(func.min(Mention.posted_at)).where(Mention.id.in_(ids)))
    if oldest is None:
        return
    blanked, theirs = set(ids), set(accounts)
    for alert in session.scalars(
        select(Alert).where(Alert.workspace_id == workspace_id, Alert.raised_at >= oldest)
    ):
        samples = [
            {**s, "author": "", "text": "", "url": None} if s.get("mention_id") in blanked else s
            for s in alert.samples or []
        ]
        authors = [
            {**a, "author": ""}
            if (a.get("platform"), _handle(str(a.get("platform")), str(a.get("author")), folded))
            in theirs
            else a
            for a in alert.top_authors or []
        ]
        if samples != alert.samples or authors != alert.top_authors:
            alert.samples, alert.top_authors = samples, authors


def blank_account_mentions(
    session: Session,
    *,
    workspace_id: int,
    accounts: Sequence[tuple[str, str]],
    case_folded: Collection[str],
) -> int:
    """Erasure: blank the author, text and link of the accounts' mentions (their public posts
    the brand collected), the copy of the post kept in `raw`, the text kept with a sentiment
    correction of them and the copies alerts quoted, keeping platform, post id, time, reach
    figures and sentiment, so the listening dashboards count them as before (and the post id
    keeps a later import of the same post a duplicate, so the text does not come back).
    Returns how many mentions were blanked; never commits."""
    where = _matching(workspace_id, accounts, case_folded)
    if where is None:
        return 0
    ids = list(session.scalars(select(Mention.id).where(where)))
    if not ids:
        return 0
    session.execute(
        update(Mention)
        .where(Mention.id.in_(ids))
        .values(author="", author_key="", text="", url=None, raw={})
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(SentimentCorrection)
        .where(SentimentCorrection.mention_id.in_(ids))
        .values(text="")
        .execution_options(synchronize_session=False)
    )
    _scrub_alerts(
        session, workspace_id=workspace_id, ids=ids, accounts=accounts, folded=case_folded
    )
    return len(ids)
