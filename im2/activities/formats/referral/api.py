"""JSON API of referral activities: the brand's rules and results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from im2.activities import service as activities
from im2.activities.formats.api import ParticipantApiDep
from im2.activities.formats.referral import reads, service
from im2.activities.formats.referral.schemas import (
    FriendRead,
    InviteStatus,
    LeaderRow,
    LinkIn,
    MilestoneProgress,
    MyReferral,
    ReferralStats,
)
from im2.activities.schemas import ActivityKind
from im2.masking import masked_for
from im2.web.deps import (
    REFERRER_COOKIE,
    ApiActor,
    DbDep,
    VisitorDep,
)
from im2.web.links import public_base_url
from im2.web.params import Id
from im2.workspaces.schemas import Permission
from im2.workspaces.service import require

router = APIRouter(prefix="/api/v1", tags=["referrals"])
PUBLIC = "/public/campaigns/{slug}/referrals/{activity_id}"


@router.get(
    "/referrals/{activity_id}/results",
    response_model=ReferralStats,
    summary="Invites (pending, qualified, held for review), the leaderboard, the latest rows",
)
def results(
    activity_id: Id, actor: ApiActor, db: DbDep, status: InviteStatus | None = None
) -> ReferralStats:
    with db.session() as session:
        return reads.referral_stats(session, actor=actor, activity_id=activity_id, status=status)


@router.get(
    "/referrals/{activity_id}/leaderboard",
    response_model=list[LeaderRow],
    summary="Inviters by qualified friends (full nicknames with people:read, else masked)",
)
def leaderboard(
    activity_id: Id,
    actor: ApiActor,
    db: DbDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[LeaderRow]:
    require(actor, Permission.READ_CAMPAIGNS)
    with db.session() as session:
        row = activities.load_activity(
            session, actor=actor, activity_id=activity_id, kind=ActivityKind.REFERRAL
        )
        return reads.leaderboard(session, activity=row, limit=limit, masked=masked_for(actor))


def _mine(
    request: Request, *, db: DbDep, slug: str, activity_id: int, device_id: str
) -> MyReferral:
    with db.session() as session:
        view = reads.view_referral(
            session,
            slug=slug,
            activity_id=activity_id,
            device_id=device_id,
            referrer=request.cookies.get(REFERRER_COOKIE),
        )
    base = public_base_url(request)
    code = view.link.code if view.link else None
    return MyReferral(
        activity_id=view.activity.id,
        title=view.activity.title,
        qualify_on=view.qualify_on,
        closed_reason=view.closed_reason,
        joined=view.participant_id is not None,
        share_code=code,
        share_url=f"{base}/s/{code}" if code else None,
        qr_svg=f"{base}/s/{code}/qr.svg" if code else None,
        qualified=view.qualified,
        pending=view.pending,
        held=view.held,
        rank=view.my_rank,
        inviter_reward=view.inviter_reward,
        invitee_reward=view.invitee_reward,
        level2_reward=view.level2_reward,
        invited_by=view.invited_by,
        milestones=[
            MilestoneProgress(
                friends=m.friends, reward=m.reward, reached=m.reached, missing=m.missing
            )
            for m in view.milestones
        ],
        friends=[
            FriendRead(name=f.name, status=f.status, joined_at=f.joined_at) for f in view.friends
        ],
        leaderboard=view.leaderboard,
    )


@router.get(
    PUBLIC,
    response_model=MyReferral,
    tags=["participants"],
    summary="The referral as this device sees it: link, progress, friends (masked), leaderboard",
)
def my_referral(
    request: Request, slug: str, activity_id: Id, visitor: VisitorDep, db: DbDep
) -> MyReferral:
    return _mine(request, db=db, slug=slug, activity_id=activity_id, device_id=visitor.device_id)


@router.post(
    PUBLIC + "/link",
    response_model=MyReferral,
    tags=["participants"],
    summary="Join (with consent, the first time) and get this device's invite link",
)
def get_my_link(
    request: Request, slug: str, activity_id: Id, body: LinkIn, act: ParticipantApiDep
) -> MyReferral:
    act.write(
        lambda session: service.do_get_link(
            session, slug=slug, activity_id=activity_id, **act.rules(body.consent)
        ),
        consent=body,
    )
    return my_referral(request, slug, activity_id, act.visitor, act.db)
