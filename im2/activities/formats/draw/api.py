"""JSON API of lucky draws: the brand's side, the participant's entry, the public record."""

from __future__ import annotations

from fastapi import APIRouter

from im2.activities.formats.api import add_console_read, add_participant_write
from im2.activities.formats.draw import reads, service
from im2.activities.formats.draw.schemas import (
    DrawPublic,
    DrawRecord,
    DrawResults,
    EnterIn,
    EntryReceipt,
    MyEntry,
    PrizePublic,
)
from im2.web.deps import DbDep, NowDep, VisitorDep
from im2.web.params import Id

router = APIRouter(prefix="/api/v1", tags=["draws"])


add_console_read(
    router,
    "/draws/{activity_id}/results",
    reads.draw_results,
    name="results",
    response_model=DrawResults,
    summary="Prizes and stock, entries, winners, and the commitment (the seed once revealed)",
)


add_participant_write(
    router,
    "/public/campaigns/{slug}/draws/{activity_id}/entries",
    service.do_enter,
    name="enter",
    body=EnterIn,
    response_model=EntryReceipt,
    summary="Enter the draw as the participant whose device cookie comes with the request",
)


@router.get(
    "/public/campaigns/{slug}/draws/{activity_id}/record",
    response_model=DrawRecord,
    tags=["participants"],
    summary="The public record to verify the draw: entries, prizes, winners, commitment, seed",
)
def record(slug: str, activity_id: Id, db: DbDep) -> DrawRecord:
    with db.session() as session:
        return reads.public_record(session, slug=slug, activity_id=activity_id)


@router.get(
    "/public/campaigns/{slug}/draws/{activity_id}/me",
    response_model=MyEntry,
    tags=["participants"],
    summary="This device's entry: whether it is in, held for review, or won",
)
def me(slug: str, activity_id: Id, visitor: VisitorDep, db: DbDep, now: NowDep) -> MyEntry:
    seen = public_draw(slug, activity_id, visitor, db, now)
    return MyEntry.model_validate(seen.model_dump(include=set(MyEntry.model_fields)))


@router.get(
    "/public/campaigns/{slug}/draws/{activity_id}",
    response_model=DrawPublic,
    tags=["participants"],
    summary="The draw as this device sees it: prizes left, its entry and what it won",
)
def public_draw(
    slug: str, activity_id: Id, visitor: VisitorDep, db: DbDep, now: NowDep
) -> DrawPublic:
    with db.session() as session:
        view = reads.view_draw(
            session, slug=slug, activity_id=activity_id, device_id=visitor.device_id, now=now
        )
    return DrawPublic(
        activity_id=view.activity.id,
        title=view.activity.title,
        mode=view.mode,
        draw_at=view.draw_at,
        drawn=view.drawn,
        open=view.closed_reason is None,
        closed_reason=view.closed_reason,
        prizes=[
            PrizePublic(name=p.name, units=p.units, left=p.left, odds=p.odds) for p in view.prizes
        ],
        entries=view.entries,
        can_enter=view.can_enter,
        entered=view.entered,
        entry_id=view.my_entry_id,
        held_for_review=view.held,
        prize=view.my_prize,
    )
