"""JSON API side of reports: a campaign's report as a PDF or HTML file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from im2.reports import service
from im2.reports.pages import download
from im2.web.deps import ApiActor, DbDep, NowDep, SettingsDep
from im2.web.params import Id

router = APIRouter(prefix="/api/v1", tags=["reports"])


@router.get(
    "/campaigns/{campaign_id}/report",
    summary="The campaign's effect report (目标、执行、数据、结论) as PDF or HTML",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "text/html": {}}}},
)
def campaign_report(
    campaign_id: Id,
    actor: ApiActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    format: Annotated[str, Query(description="pdf or html.")] = "pdf",
    locale: Annotated[str, Query(description="zh_CN or en.")] = "zh_CN",
) -> Response:
    chosen = service.check_format(format)
    with db.transaction() as session:
        file = service.do_generate_report(
            session,
            actor=actor,
            campaign_id=campaign_id,
            fmt=chosen,
            lake_path=settings.lake_path,
            now=now,
            locale=service.check_locale(locale, "zh_CN"),
        )
    return download(file)
