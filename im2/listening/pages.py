"""Console pages for social listening: the overview (timeline, share of voice, latest alerts,
inbox counts), file import with its report, and the mention list with sentiment correction.

Topics and alerts live in `pages_topics.py`, the inbox in `pages_inbox.py`; their routers are
included here because only `pages.py` is discovered.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from im2.errors import IM2Error, InvalidInput
from im2.i18n import N_, _
from im2.listening import alerting, inbox, service, topics
from im2.listening.importers import FileFormat
from im2.listening.pages_common import (
    PREFIX,
    base_url,
    redirect,
    require_write,
    safe_back,
    vocabulary,
)
from im2.listening.pages_inbox import router as inbox_router
from im2.listening.pages_sources import router as sources_router
from im2.listening.pages_topics import router as topics_router
from im2.listening.schemas import (
    Dashboard,
    MentionFilter,
    Platform,
    SentimentLabel,
)
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.forms import service_error
from im2.web.templating import local_time, render
from im2.workspaces.schemas import Actor, Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False)

# Up to three days the dashboard counts per hour, beyond that per day (topics.dashboard).
RANGES: Final = {
    "24h": (timedelta(hours=24), N_("Last 24 hours")),
    "3d": (timedelta(days=3), N_("Last 3 days")),
    "7d": (timedelta(days=7), N_("Last 7 days")),
    "30d": (timedelta(days=30), N_("Last 30 days")),
}
DEFAULT_RANGE: Final = "3d"
FILE_FORMAT_LABELS: Final = {
    FileFormat.CSV: "CSV",
    FileFormat.TSV: "TSV",
    FileFormat.JSON: "JSON",
    FileFormat.JSONL: "JSONL",
}


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


@router.get("")
def overview(
    request: Request,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
    period: Annotated[str, Query(alias="range")] = DEFAULT_RANGE,
    topic: Annotated[str | None, Query()] = None,
) -> Response:
    if period not in RANGES:
        raise InvalidInput(_("Unknown filter value."), field="range")
    try:
        topic_id = int(topic) if topic else None
    except ValueError:
        raise InvalidInput(_("Unknown filter value."), field="topic") from None
    span, _label = RANGES[period]
    with db.session() as session:
        board = topics.dashboard(
            session, actor=actor, topic_id=topic_id, since=now - span, until=now
        )
        topic_list = topics.list_topics(session, actor=actor)
        alerts = alerting.list_alerts(session, actor=actor, limit=5)
        counts = inbox.inbox_counts(session, actor=actor)
    negative = sum(p.negative for p in board.timeline)
    return render(
        request,
        "listening/overview.html",
        {
            **vocabulary(),
            "section": "overview",
            "board": board,
            "chart": _chart_data(board),
            "negative_share": negative / board.total if board.total else 0.0,
            "topics": topic_list,
            "alerts": alerts,
            "counts": counts,
            "ranges": RANGES,
            "chosen": {"range": period, "topic": topic_id},
            "base": base_url(actor),
        },
    )


# --- import ---------------------------------------------------------------------------------


def _import_page(
    request: Request,
    db: DbDep,
    actor: Actor,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    with db.session() as session:
        mappings = service.list_mappings(session, actor=actor)
        imports = service.list_imports(session, actor=actor, limit=10)
    return render(
        request,
        "listening/import.html",
        {
            **vocabulary(),
            "section": "import",
            "mappings": mappings,
            "formats": FILE_FORMAT_LABELS,
            "imports": imports,
            "values": values,
            "errors": errors,
            "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
            "base": base_url(actor),
        },
        status_code=status_code,
    )


@router.get("/import")
def import_page(request: Request, actor: ConsoleActor, db: DbDep) -> Response:
    return _import_page(request, db, actor, values={"mapping": "im2"}, errors={})


@router.post("/import")
def import_file(
    request: Request, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    # The form was parsed by hand (CsrfForm), so nothing else closes the spooled upload.
    try:
        return _import_file(request, form, actor, db, now)
    finally:
        for value in form.values():
            if isinstance(value, UploadFile):
                value.file.close()


def _import_file(
    request: Request, form: FormData, actor: Actor, db: DbDep, now: datetime
) -> Response:
    require_write(actor)
    values = {"mapping": str(form.get("mapping") or ""), "file_format": ""}
    upload = form.get("file")
    errors: dict[str, str] = {}
    chosen_format = str(form.get("file_format") or "")
    file_format: FileFormat | None = None
    if chosen_format:
        try:
            file_format = FileFormat(chosen_format)
            values["file_format"] = chosen_format
        except ValueError:
            errors["file_format"] = _("Choose one of the options.")
    if not isinstance(upload, UploadFile) or not upload.filename:
        errors["file"] = _("Choose a file to import.")
    if errors or not isinstance(upload, UploadFile):
        return _import_page(request, db, actor, values=values, errors=errors, status_code=422)
    # A sync route runs in the thread pool, so reading the spooled file does not block the loop.
    data = upload.file.read()
    try:
        with db.transaction() as session:
            report = service.do_import_file(
                session,
                actor=actor,
                filename=upload.filename or "upload",
                data=data,
                mapping=values["mapping"],
                file_format=file_format,
                now=now,
            )
    except IM2Error as exc:
        if exc.status_code in (403, 404):
            raise
        return _import_page(
            request,
            db,
            actor,
            values=values,
            errors=service_error(exc),
            status_code=exc.status_code,
        )
    return redirect(f"{base_url(actor)}/imports/{report.id}")


@router.get("/imports/{import_id}")
def import_report(request: Request, import_id: int, actor: ConsoleActor, db: DbDep) -> Response:
    with db.session() as session:
        report = service.get_import(session, actor=actor, import_id=import_id)
        mappings = dict(service.list_mappings(session, actor=actor))
    return render(
        request,
        "listening/import_report.html",
        {
            **vocabulary(),
            "section": "import",
            "report": report,
            "mapping_title": mappings.get(report.mapping, report.mapping),
            "base": base_url(actor),
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
    return render(
        request,
        "listening/mentions.html",
        {
            **vocabulary(),
            "section": "mentions",
            "page": page,
            "topics": topic_list,
            "chosen": chosen,
            "query": request.url.query,
            "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
            "base": base_url(actor),
        },
    )


@router.post("/mentions/{mention_id}/sentiment")
def correct_sentiment(
    request: Request,
    mention_id: int,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    try:
        label = SentimentLabel(str(form.get("sentiment", "")))
    except ValueError:
        raise InvalidInput(_("Choose one of the options."), field="sentiment") from None
    with db.transaction() as session:
        service.do_correct_sentiment(
            session, actor=actor, mention_id=mention_id, label=label, now=now
        )
    back = str(form.get("back") or "")
    # The inbox item page corrects sentiment too and asks to come back to itself.
    if back.startswith("inbox:") and back[6:].isdigit():
        return redirect(f"{base_url(actor)}/inbox/{back[6:]}")
    return redirect(safe_back(back, f"{base_url(actor)}/mentions"))


router.include_router(topics_router)
router.include_router(inbox_router)
router.include_router(sources_router)
