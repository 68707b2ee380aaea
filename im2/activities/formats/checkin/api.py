"""JSON API of daily check-ins: the brand's side and the participant's check-in."""

from __future__ import annotations

from fastapi import APIRouter

from im2.activities import service as activities
from im2.activities.formats.api import add_participant_write
from im2.activities.formats.checkin import service
from im2.activities.formats.checkin.schemas import (
    CheckinIn,
    CheckinPublic,
    CheckinReceipt,
    CheckinStats,
    MyCheckins,
)
from im2.campaigns import service as campaigns
from im2.web.deps import ApiActor, DbDep, NowDep, VisitorDep
from im2.web.params import Id

router = APIRouter(prefix="/api/v1", tags=["checkins"])


@router.get(
    "/checkins/{activity_id}/stats",
    response_model=CheckinStats,
    summary="Check-ins today and in all, and the leaderboard of streaks",
)
def stats(activity_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> CheckinStats:
    with db.session() as session:
        found = activities.get_activity(session, actor=actor, activity_id=activity_id)
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=found.campaign_id)
        return service.checkin_stats(
            session, actor=actor, activity_id=activity_id, campaign=campaign, now=now
        )


add_participant_write(
    router,
    "/public/campaigns/{slug}/checkins/{activity_id}/checkins",
    service.do_check_in,
    name="check_in",
    body=CheckinIn,
    response_model=CheckinReceipt,
    summary="Check in for today as the participant whose device cookie comes with the request",
)


@router.get(
    "/public/campaigns/{slug}/checkins/{activity_id}",
    response_model=CheckinPublic,
    tags=["participants"],
    summary="The check-in as this device sees it: streak, calendar, milestones, can check in",
)
def public_checkin(
    slug: str,
    activity_id: Id,
    visitor: VisitorDep,
    db: DbDep,
    now: NowDep,
    month: str | None = None,
) -> CheckinPublic:
    with db.session() as session:
        view = service.view_checkin(
            session,
            slug=slug,
            activity_id=activity_id,
            device_id=visitor.device_id,
            now=now,
            month=month,
        )
    return CheckinPublic(
        **view.mine.model_dump(),
        title=view.activity.title,
        open=view.closed_reason is None,
        closed_reason=view.closed_reason,
        can_check_in=view.can_check_in,
        milestones=view.milestones,
    )


# The older read of the same view: its response model keeps the fields it always had.
router.add_api_route(
    "/public/campaigns/{slug}/checkins/{activity_id}/me",
    public_checkin,
    methods=["GET"],
    response_model=MyCheckins,
    tags=["participants"],
    summary="This device's streak, and its calendar of a month (YYYY-MM, default this one)",
    name="me",
)
