"""Console pages for social listening: the overview (timeline, keywords and trending terms,
share of voice, latest alerts, inbox counts) and the mention list with sentiment correction.

File imports and saved column mappings live in `pages_import.py`, topics and alerts in
`pages_topics.py`, the inbox in `pages_inbox.py`; their routers are included here because only
`pages.py` is discovered.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from im2.errors import InvalidInput
from im2.i18n import N_, _
from im2.listening import alerting, inbox, service, topics, trending
from im2.listening.pages_common import (
    PREFIX,
    base_url,
    listening_page,
    redirect,
    safe_back,
)
from im2.listening.pages_import import router as import_router
from im2.listening.pages_inbox import router as inbox_router
from im2.listening.pages_sources import router as sources_router
from im2.listening.pages_topics import router as topics_router
from im2.listening.schemas import (
    Dashboard,
    MentionFilter,
    Platform,
    SentimentLabel,
    TermBoard,
)
from im2.web.db_calls import write
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.params import Id
from im2.web.templating import local_time

router = APIRouter(prefix=PREFIX, include_in_schema=False)

# Up to three days the dashboard counts per hour, beyond that per day (topics.dashboard).
RANGES: Final = {
    "24h": (timedelta(hours=24), N_("Last 24 hours")),
    "3d": (timedelta(days=3), N_("Last 3 days")),
    "7d": (timedelta(days=7), N_("Last 7 days")),
    "30d": (timedelta(days=30), N_("Last 30 days")),
}
DEFAULT_RANGE: Final = "3d"
# What the trending terms are compared with; "week" only for periods shorter than a week,
# which a week earlier does not overlap.
BASELINES: Final = {
    "previous": N_("The previous period of the same length"),
    "week": N_("The same period a week earlier"),
}
WEEK: Final = timedelta(days=7)


# --- overview -------------------------------------------------------------------------------


def _chart_data(board: Dashboard) -> dict[str, Any]:
    """What the timeline chart draws, with times already in Beijing time for the axis."""
    fmt = "%m-%d %H:%M" if board.bucket_minutes < 24 * 60 else "%m-%d"
    points = board.timeline
    return {
        "x": [local_time(p.start, fmt=fmt) for p in points],
        "positive": [p.positive for p in points],
        "neutral": [p.neutral for p in points],
        "negative": [p.negative for p in points],
        "total": [p.total for p in points],
        "names": {
            "positive": _("Positive"),
            "neutral": _("Neutral"),
            "negative": _("Negative"),
            "total": _("Total"),
            "empty": _("No mentions in this period."),
        },
    }


def _cloud_data(terms: TermBoard, *, base: str) -> dict[str, Any]:
    """What the word cloud draws (the period's keywords sized by the posts that contain them)
    and where a click on a word goes: the mentions with it, in the same topic."""
    scope = {"topic": terms.topic_id} if terms.topic_id is not None else {}
    return {
        "words": [{"name": t.term, "value": t.count} for t in terms.keywords],
        "link": f"{base}/mentions?" + urlencode({**scope, "q": ""}),
    }


@router.get("")
def overview(
    request: Request,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
    period: Annotated[str, Query(alias="range")] = DEFAULT_RANGE,
    topic: Annotated[str | None, Query()] = None,
    baseline: Annotated[str, Query()] = "previous",
) -> Response:
    if period not in RANGES:
        raise InvalidInput(_("Unknown filter value."), field="range")
    if baseline not in BASELINES:
        raise InvalidInput(_("Unknown filter value."), field="baseline")
    try:
        topic_id = int(topic) if topic else None
    except ValueError:
        raise InvalidInput(_("Unknown filter value."), field="topic") from None
    span, _label = RANGES[period]
    # Chosen with a shorter period and kept when the period grows to a week or more: said on
    # the page rather than refused, since the user only changed the period.
    week_overlaps = baseline == "week" and span >= WEEK
    shift = WEEK if baseline == "week" and not week_overlaps else span
    with db.session() as session:
        board = topics.dashboard(
            session, actor=actor, topic_id=topic_id, since=now - span, until=now
        )
        terms = trending.term_board(
            session,
            actor=actor,
            topic_id=topic_id,
            since=now - span,
            until=now,
            baseline_since=now - span - shift,
            baseline_until=now - shift,
        )
        topic_list = topics.list_topics(session, actor=actor)
        alerts = alerting.list_alerts(session, actor=actor, limit=5)
        counts = inbox.inbox_counts(session, actor=actor)
    negative = sum(p.negative for p in board.timeline)
    return listening_page(
        request,
        actor,
        "overview",
        "overview",
        {
            "board": board,
            "chart": _chart_data(board),
            "terms": terms,
            "cloud": _cloud_data(terms, base=base_url(actor)),
            "week_overlaps": week_overlaps,
            "negative_share": negative / board.total if board.total else 0.0,
            "topics": topic_list,
            "alerts": alerts,
            "counts": counts,
            "ranges": RANGES,
            "baselines": BASELINES,
            "chosen": {"range": period, "topic": topic_id, "baseline": baseline},
        },
    )


# --- mentions -------------------------------------------------------------------------------


@router.get("/mentions")
def mentions_page(
    request: Request,
    actor: ConsoleActor,
    db: DbDep,
    platform: Annotated[str | None, Query()] = None,
    sentiment: Annotated[str | None, Query()] = None,
    topic: Annotated[str | None, Query()] = None,
    language: Annotated[str | None, Query(max_length=8)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: str | None = None,
) -> Response:
    chosen = {
        "platform": platform or "",
        "sentiment": sentiment or "",
        "topic": topic or "",
        "language": language or "",
        "q": q or "",
    }
    try:
        filters = MentionFilter(
            platform=Platform(platform) if platform else None,
            sentiment=SentimentLabel(sentiment) if sentiment else None,
            topic_id=int(topic) if topic else None,
            language=language or None,
            q=q or None,
        )
    except ValueError:
        raise InvalidInput(_("Unknown filter value.")) from None
    with db.session() as session:
        page = service.list_mentions(session, actor=actor, filters=filters, cursor=cursor, limit=50)
        topic_list = topics.list_topics(session, actor=actor)
    return listening_page(
        request,
        actor,
        "mentions",
        "mentions",
        {
            "page": page,
            "topics": topic_list,
            "chosen": chosen,
            "query": request.url.query,
        },
    )


@router.post("/mentions/{mention_id}/sentiment")
def correct_sentiment(
    request: Request,
    mention_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    try:
        label = SentimentLabel(str(form.get("sentiment", "")))
    except ValueError:
        raise InvalidInput(_("Choose one of the options."), field="sentiment") from None
    write(
        db, service.do_correct_sentiment, actor=actor, mention_id=mention_id, label=label, now=now
    )
    back = str(form.get("back") or "")
    # The inbox item page corrects sentiment too and asks to come back to itself.
    if back.startswith("inbox:") and back[6:].isdigit():
        return redirect(f"{base_url(actor)}/inbox/{back[6:]}")
    return redirect(safe_back(back, f"{base_url(actor)}/mentions"))


router.include_router(import_router)
router.include_router(topics_router)
router.include_router(inbox_router)
router.include_router(sources_router)
