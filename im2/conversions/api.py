"""JSON API for conversions: a shop reports an order; the brand lists them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import JSONResponse, Response

from im2.conversions import service
from im2.conversions.schemas import ConversionCreate, ConversionPage, ConversionRead
from im2.web.deps import ApiActor, DbDep, NowDep
from im2.web.params import Id

router = APIRouter(prefix="/api/v1/conversions", tags=["conversions"])


@router.post(
    "",
    response_model=ConversionRead,
    status_code=201,
    summary="Report an order (idempotent by order id)",
    responses={
        200: {"description": "This order was recorded before: the stored conversion."},
        409: {"description": "This order id was recorded with another amount or currency."},
    },
)
def record_conversion(body: ConversionCreate, actor: ApiActor, db: DbDep, now: NowDep) -> Response:
    """Identify the buyer by a coupon code, a participant id or the share code of the link they
    came through. The conversion is credited to the campaign, channel and referrer of the
    buyer's last share-link click (first touch kept beside it), and counts in the campaign's
    revenue and ROI. Sending the same order again returns the stored conversion with 200."""
    with db.transaction() as session:
        conversion, created = service.do_record_conversion(session, actor=actor, data=body, now=now)
    return JSONResponse(conversion.model_dump(mode="json"), status_code=201 if created else 200)


@router.get("", response_model=ConversionPage, summary="Conversions, newest first")
def list_conversions(
    actor: ApiActor,
    db: DbDep,
    campaign_id: Id | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ConversionPage:
    with db.session() as session:
        return service.list_conversions(
            session, actor=actor, campaign_id=campaign_id, cursor=cursor, limit=limit
        )


@router.get("/{order_id}", response_model=ConversionRead, summary="One order's conversion")
def get_conversion(order_id: str, actor: ApiActor, db: DbDep) -> ConversionRead:
    with db.session() as session:
        return service.get_conversion(session, actor=actor, order_id=order_id)
