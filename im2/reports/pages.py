"""Console pages of a campaign's report: the report in the console, and its PDF and HTML
downloads."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from im2.i18n import get_locale, use_locale
from im2.reports import service
from im2.reports.document import report_context
from im2.reports.schemas import ReportFile, ReportFormat
from im2.web.deps import ConsoleActor, DbDep, NowDep, SettingsDep
from im2.web.params import Id
from im2.web.templating import render

router = APIRouter(
    prefix="/console/w/{workspace}/campaigns/{campaign_id}/report", include_in_schema=False
)
LocaleParam = Annotated[str | None, Query(description="zh_CN (default) or en.")]


def download(file: ReportFile) -> Response:
    """The file as an attachment (RFC 6266 filename*, so any slug is safe in the header)."""
    return Response(
        file.content,
        media_type=file.media_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(file.filename)}",
            "Cache-Control": "private, no-store",
        },
    )


@router.get("")
def report_page(
    request: Request,
    campaign_id: Id,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    locale: LocaleParam = None,
) -> Response:
    chosen = service.check_locale(locale, get_locale())
    with db.session() as session:
        report = service.build_report(
            session,
            actor=actor,
            campaign_id=campaign_id,
            lake_path=settings.lake_path,
            now=now,
            locale=chosen,
        )
    with use_locale(chosen):  # the page speaks the report's language
        return render(
            request,
            "reports/console.html",
            {**report_context(report), "report_locale": chosen, "nav": "campaigns"},
        )


@router.get(".{fmt}")
def report_download(
    campaign_id: Id,
    fmt: str,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    locale: LocaleParam = None,
) -> Response:
    chosen: ReportFormat = service.check_format(fmt)
    with db.transaction() as session:
        file = service.do_generate_report(
            session,
            actor=actor,
            campaign_id=campaign_id,
            fmt=chosen,
            lake_path=settings.lake_path,
            now=now,
            locale=service.check_locale(locale, get_locale()),
        )
    return download(file)
