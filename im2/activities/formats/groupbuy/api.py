"""JSON API of group-buys: the brand's side, and participants opening and joining teams."""

from __future__ import annotations

from fastapi import APIRouter

from im2.activities.formats.api import add_console_read, add_participant_write
from im2.activities.formats.groupbuy import reads, service
from im2.activities.formats.groupbuy.schemas import (
    GroupbuyStats,
    OfferRead,
    TeamJoinIn,
    TeamRead,
)
from im2.web.deps import DbDep, NowDep, VisitorDep
from im2.web.params import Id

router = APIRouter(prefix="/api/v1", tags=["groupbuys"])
PUBLIC = "/public/campaigns/{slug}/groupbuys/{activity_id}"


add_console_read(
    router,
    "/groupbuys/{activity_id}/teams",
    reads.groupbuy_stats,
    name="teams",
    response_model=GroupbuyStats,
    summary="The offer's teams, with their status as of now",
    at_now=True,
)


add_participant_write(
    router,
    PUBLIC + "/teams",
    service.do_open_team,
    name="open_team",
    body=TeamJoinIn,
    response_model=TeamRead,
    summary="Open a team as the participant whose device cookie comes with the request",
)


add_participant_write(
    router,
    PUBLIC + "/teams/{code}/members",
    service.do_join_team,
    name="join_team",
    body=TeamJoinIn,
    response_model=TeamRead,
    summary="Join a team through its code",
    more={"code": str},
)


@router.get(
    PUBLIC + "/teams/{code}",
    response_model=TeamRead,
    tags=["participants"],
    summary="A team as its link shows it",
)
def get_team(
    slug: str, activity_id: Id, code: str, visitor: VisitorDep, db: DbDep, now: NowDep
) -> TeamRead:
    with db.session() as session:
        return reads.view_team(
            session,
            slug=slug,
            activity_id=activity_id,
            code=code,
            device_id=visitor.device_id,
            now=now,
        ).team


@router.get(
    PUBLIC,
    response_model=OfferRead,
    tags=["participants"],
    summary="The offer, this device's latest team and the teams it could join",
)
def get_offer(slug: str, activity_id: Id, visitor: VisitorDep, db: DbDep, now: NowDep) -> OfferRead:
    with db.session() as session:
        view = reads.view_offer(
            session, slug=slug, activity_id=activity_id, device_id=visitor.device_id, now=now
        )
    return OfferRead(
        activity_id=view.activity.id,
        title=view.activity.title,
        offer=view.offer,
        my_team=view.my_team,
        open_teams=view.open_teams,
        can_open=view.can_open,
        closed_reason=view.closed_reason,
    )
