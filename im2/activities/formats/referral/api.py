"""JSON API of referral activities: the brand's rules and results."""

from __future__ import annotations

from fastapi import APIRouter

from im2.activities import service as activities
from im2.activities.formats.referral import reads, service
from im2.activities.formats.referral.schemas import (
    InviteStatus,
    LeaderRow,
    ReferralCreate,
    ReferralStats,
    ReferralUpdate,
)
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.web.deps import ApiActor, DbDep, NowDep
from im2.workspaces.schemas import Permission
from im2.workspaces.service import require

router = APIRouter(prefix="/api/v1", tags=["referrals"])


@router.post(
    "/campaigns/{campaign_id}/referrals",
    response_model=ActivityRead,
    status_code=201,
    summary="Add a referral (invite-a-friend) activity; at most 2 reward levels",
)
def create_referral(
    campaign_id: int, body: ReferralCreate, actor: ApiActor, db: DbDep, now: NowDep
) -> ActivityRead:
    with db.transaction() as session:
        return service.do_create_referral(
            session, actor=actor, campaign_id=campaign_id, data=body, now=now
        )


@router.patch(
    "/referrals/{activity_id}",
    response_model=ActivityRead,
    summary="Change the texts or rules; new rules apply to invites qualifying from now on",
)
def update_referral(
    activity_id: int, body: ReferralUpdate, actor: ApiActor, db: DbDep, now: NowDep
) -> ActivityRead:
    with db.transaction() as session:
        return service.do_update_referral(
            session, actor=actor, activity_id=activity_id, data=body, now=now
        )


@router.get(
    "/referrals/{activity_id}/results",
    response_model=ReferralStats,
    summary="Invites (pending, qualified, held for review), the leaderboard, the latest rows",
)
def results(
    activity_id: int, actor: ApiActor, db: DbDep, status: InviteStatus | None = None
) -> ReferralStats:
    with db.session() as session:
        return reads.referral_stats(session, actor=actor, activity_id=activity_id, status=status)


@router.get(
    "/referrals/{activity_id}/leaderboard",
    response_model=list[LeaderRow],
    summary="Inviters by qualified friends (full nicknames; the public page masks them)",
)
def leaderboard(activity_id: int, actor: ApiActor, db: DbDep, limit: int = 50) -> list[LeaderRow]:
    require(actor, Permission.READ_CAMPAIGNS)
    with db.session() as session:
        row = activities.load_activity(
            session, actor=actor, activity_id=activity_id, kind=ActivityKind.REFERRAL
        )
        return reads.leaderboard(session, activity=row, limit=max(1, min(limit, 500)), masked=False)
