"""The dashboard's keywords and trending terms: which posts are read, and the baseline period.

Tokenising is the cost (jieba, about 0.15 ms a post), so a period is represented by its most
recent `TERM_SAMPLE` posts: a dashboard over a million mentions reads as many posts as one over
a thousand, and the page says when it did not read them all. The word counting itself is the
pure core in `terms.py`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from im2.errors import InvalidInput
from im2.i18n import _
from im2.listening.models import Mention, TopicMatch
from im2.listening.schemas import TermBoard, TermPeriod, TermRead
from im2.listening.terms import MAX_TERM_CHARS, compare_terms
from im2.listening.topics import minute_of, owned_topic
from im2.workspaces import branding
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import require

TERM_SAMPLE: Final = 1000


def _utc(when: datetime) -> datetime:
    # A time without an offset from an API client is taken as UTC, as for mentions.
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _recent_texts(
    session: Session, *, workspace_id: int, topic_id: int | None, since: datetime, until: datetime
) -> tuple[list[str], bool]:
    """The first characters of the period's most recent posts, and whether that is all of them.

    Ordered by the minute alone, so both databases walk the (scope, minute) index backwards
    and stop after TERM_SAMPLE + 1 rows instead of sorting the period."""
    lo, hi = minute_of(since), minute_of(until)
    text = func.substr(Mention.text, 1, MAX_TERM_CHARS)
    if topic_id is None:
        query = (
            select(text)
            .where(
                Mention.workspace_id == workspace_id,
                Mention.posted_minute >= lo,
                Mention.posted_minute < hi,
            )
            .order_by(Mention.posted_minute.desc())
            .limit(TERM_SAMPLE + 1)
        )
    else:
        recent = (
            select(TopicMatch.mention_id)
            .where(
                TopicMatch.topic_id == topic_id,
                TopicMatch.posted_minute >= lo,
                TopicMatch.posted_minute < hi,
            )
            .order_by(TopicMatch.posted_minute.desc())
            .limit(TERM_SAMPLE + 1)
            .subquery()
        )
        query = select(text).join(recent, Mention.id == recent.c.mention_id)
    texts = list(session.scalars(query))
    return texts[:TERM_SAMPLE], len(texts) <= TERM_SAMPLE


def term_board(
    session: Session,
    *,
    actor: Actor,
    topic_id: int | None,
    since: datetime,
    until: datetime,
    baseline_since: datetime | None = None,
    baseline_until: datetime | None = None,
    limit: int = 50,
) -> TermBoard:
    """Keywords of the posts in [since, until) and the terms trending against the baseline,
    by default the period of the same length just before. The baseline must end by `since`."""
    require(actor, Permission.READ_CAMPAIGNS)
    since, until = _utc(since), _utc(until)
    if until <= since:
        raise InvalidInput(_("The end must be after the start."), field="until")
    baseline_until = _utc(baseline_until) if baseline_until else since
    try:
        baseline_since = (
            _utc(baseline_since) if baseline_since else baseline_until - (until - since)
        )
    except OverflowError:  # a period reaching back to year 1 has no period before it
        raise InvalidInput(
            _("The period is too long to compare with the one before it."), field="since"
        ) from None
    if baseline_until <= baseline_since:
        raise InvalidInput(_("The baseline must end after it starts."), field="baseline_until")
    if baseline_until > since:
        raise InvalidInput(
            _("The baseline must end before the period starts."), field="baseline_until"
        )
    if topic_id is not None:
        owned_topic(session, actor=actor, topic_id=topic_id)
    ws = actor.workspace_id
    window, window_complete = _recent_texts(
        session, workspace_id=ws, topic_id=topic_id, since=since, until=until
    )
    baseline, baseline_complete = _recent_texts(
        session, workspace_id=ws, topic_id=topic_id, since=baseline_since, until=baseline_until
    )
    brand = branding.resolve_brand(session, workspace_id=ws, campaign_id=None).name
    compared = compare_terms(window, baseline, limit=limit, leave_out=brand)
    return TermBoard(
        topic_id=topic_id,
        sample_limit=TERM_SAMPLE,
        window=TermPeriod(since=since, until=until, sampled=len(window), complete=window_complete),
        baseline=TermPeriod(
            since=baseline_since,
            until=baseline_until,
            sampled=len(baseline),
            complete=baseline_complete,
        ),
        keywords=[TermRead.model_validate(t) for t in compared.keywords],
        trending=[TermRead.model_validate(t) for t in compared.trending],
    )
