"""What the console and the participant page show of a referral: results, the inviters'
leaderboard, the CSV export, and one participant's own invitations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.formats.common import console_activity
from im2.activities.formats.referral.models import ReferralInvite, ReferralMilestone
from im2.activities.formats.referral.schemas import (
    InviteRow,
    InviteStatus,
    LeaderRow,
    Milestone,
    QualifyOn,
    ReferralSettings,
    ReferralStats,
    Reward,
)
from im2.activities.formats.referral.service import settings_of
from im2.activities.models import Activity
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.campaigns.schemas import CampaignRead
from im2.i18n import _
from im2.incentives import service as incentives
from im2.masking import mask_name, masked_for
from im2.participation import service as participation
from im2.sharing import service as sharing
from im2.sharing.schemas import ShareLinkRead
from im2.workspaces.schemas import Actor

ROWS_SHOWN = 500


def mask(name: str | None, participant_id: int) -> str:
    """A nickname others may see: 王小明 → 王*明, Lily → L**y; no nickname → a neutral label."""
    if not name:
        return _("Friend #{n}").format(n=participant_id)
    return mask_name(name)


def _names(session: Session, *, workspace_id: int, ids: list[int], masked: bool) -> dict[int, str]:
    found = participation.get_signals(session, workspace_id=workspace_id, participant_ids=ids)
    names: dict[int, str] = {}
    for pid in ids:
        nickname = found[pid].nickname if pid in found else None
        names[pid] = mask(nickname, pid) if masked else (nickname or f"#{pid}")
    return names


def leaderboard(
    session: Session, *, activity: Activity, limit: int = 10, masked: bool = True
) -> list[LeaderRow]:
    """Inviters by qualified friends (held ones are under review and do not count yet); on a
    tie, whoever got there first ranks higher."""
    qualified = func.sum(case((ReferralInvite.status == InviteStatus.QUALIFIED.value, 1), else_=0))
    held = func.sum(case((ReferralInvite.status == InviteStatus.HELD.value, 1), else_=0))
    pending = func.sum(case((ReferralInvite.status == InviteStatus.PENDING.value, 1), else_=0))
    reached = func.max(
        case(
            (ReferralInvite.status == InviteStatus.QUALIFIED.value, ReferralInvite.qualified_at),
            else_=None,
        )
    )
    rows = session.execute(
        select(ReferralInvite.inviter_id, qualified, held, pending)
        .where(ReferralInvite.activity_id == activity.id)
        .group_by(ReferralInvite.inviter_id)
        .having(qualified > 0)
        .order_by(qualified.desc(), reached.asc(), ReferralInvite.inviter_id.asc())
        .limit(limit)
    ).all()
    names = _names(
        session, workspace_id=activity.workspace_id, ids=[r[0] for r in rows], masked=masked
    )
    return [
        LeaderRow(
            rank=i + 1,
            participant_id=r[0],
            name=names[r[0]],
            qualified=int(r[1]),
            held=int(r[2]),
            pending=int(r[3]),
        )
        for i, r in enumerate(rows)
    ]


def _invite_row(invite: ReferralInvite, names: dict[int, str]) -> InviteRow:
    details = invite.evidence.get("details") if invite.evidence else None
    return InviteRow(
        id=invite.id,
        inviter_id=invite.inviter_id,
        inviter_name=names.get(invite.inviter_id, f"#{invite.inviter_id}"),
        level2_id=invite.level2_id,
        invitee_id=invite.invitee_id,
        invitee_name=names.get(invite.invitee_id, f"#{invite.invitee_id}"),
        channel=invite.channel,
        status=InviteStatus(invite.status),
        joined_at=invite.joined_at,
        qualified_at=invite.qualified_at,
        qualified_by=invite.qualified_by,
        reasons=list(invite.evidence.get("reasons", [])) if invite.evidence else [],
        evidence=dict(details) if isinstance(details, dict) else {},
    )


def _load(session: Session, *, actor: Actor, activity_id: int) -> Activity:
    return console_activity(
        session, actor=actor, activity_id=activity_id, kind=ActivityKind.REFERRAL
    )


def referral_stats(
    session: Session, *, actor: Actor, activity_id: int, status: InviteStatus | None = None
) -> ReferralStats:
    activity = _load(session, actor=actor, activity_id=activity_id)
    counts = dict(
        session.execute(
            select(ReferralInvite.status, func.count())
            .where(ReferralInvite.activity_id == activity.id)
            .group_by(ReferralInvite.status)
        ).all()
    )
    inviters = int(
        session.scalar(
            select(func.count(func.distinct(ReferralInvite.inviter_id))).where(
                ReferralInvite.activity_id == activity.id
            )
        )
        or 0
    )
    reached = int(
        session.scalar(
            select(func.count())
            .select_from(ReferralMilestone)
            .where(ReferralMilestone.activity_id == activity.id)
        )
        or 0
    )
    query = select(ReferralInvite).where(ReferralInvite.activity_id == activity.id)
    if status is not None:
        query = query.where(ReferralInvite.status == status.value)
    invites = list(session.scalars(query.order_by(ReferralInvite.id.desc()).limit(ROWS_SHOWN)))
    ids = sorted({i.inviter_id for i in invites} | {i.invitee_id for i in invites})
    masked = masked_for(actor)  # console users without people:read see masked nicknames
    names = _names(session, workspace_id=activity.workspace_id, ids=ids, masked=masked)
    return ReferralStats(
        activity_id=activity.id,
        title=activity.title,
        settings=settings_of(activity),
        invites=sum(int(v) for v in counts.values()),
        pending=int(counts.get(InviteStatus.PENDING.value, 0)),
        qualified=int(counts.get(InviteStatus.QUALIFIED.value, 0)),
        held=int(counts.get(InviteStatus.HELD.value, 0)),
        voided=int(counts.get(InviteStatus.VOIDED.value, 0)),
        inviters=inviters,
        milestones_reached=reached,
        leaderboard=leaderboard(session, activity=activity, limit=20, masked=masked),
        rows=[_invite_row(i, names) for i in invites],
    )


def export_rows(session: Session, *, actor: Actor, activity_id: int) -> list[dict[str, Any]]:
    activity = _load(session, actor=actor, activity_id=activity_id)
    invites = list(
        session.scalars(
            select(ReferralInvite)
            .where(ReferralInvite.activity_id == activity.id)
            .order_by(ReferralInvite.id)
        )
    )
    ids = sorted({i.inviter_id for i in invites} | {i.invitee_id for i in invites})
    names = _names(session, workspace_id=activity.workspace_id, ids=ids, masked=masked_for(actor))
    rows = []
    for invite in invites:
        row = _invite_row(invite, names)
        grants = invite.evidence.get("grants", {}) if invite.evidence else {}
        rows.append(
            {
                "inviter_id": row.inviter_id,
                "inviter": row.inviter_name,
                "level2_id": row.level2_id or "",
                "invitee_id": row.invitee_id,
                "invitee": row.invitee_name,
                "channel": row.channel or "",
                "share_code": invite.share_code,
                "joined_at": row.joined_at.isoformat(),
                "status": row.status.value,
                "qualified_at": row.qualified_at.isoformat() if row.qualified_at else "",
                "qualified_by": row.qualified_by or "",
                "held_reasons": "; ".join(row.reasons),
                "evidence": "; ".join(f"{k}: {v}" for k, v in row.evidence.items()),
                "grants": "; ".join(f"{k}: {v}" for k, v in sorted(grants.items())),
            }
        )
    return rows


EXPORT_COLUMNS = [
    "inviter_id",
    "inviter",
    "level2_id",
    "invitee_id",
    "invitee",
    "channel",
    "share_code",
    "joined_at",
    "status",
    "qualified_at",
    "qualified_by",
    "held_reasons",
    "evidence",
    "grants",
]


def describe(session: Session, *, workspace_id: int, reward: Reward | None) -> str | None:
    """A reward in words, for people: "50 积分", "优惠券：5 元饮品券", "奖品：保温杯"."""
    if reward is None:
        return None
    if reward.kind == "points":
        return _("{n} points").format(n=reward.points)
    if reward.kind == "coupon" and reward.pool_id is not None:
        pool = incentives.get_pool(session, workspace_id=workspace_id, pool_id=reward.pool_id)
        return _("Coupon: {name}").format(name=pool.name if pool else "—")
    if reward.prize_id is not None:
        prize = incentives.get_prize(session, workspace_id=workspace_id, prize_id=reward.prize_id)
        return _("Prize: {name}").format(name=prize.name if prize else "—")
    return None


@dataclass(frozen=True, slots=True)
class MilestoneView:
    friends: int
    reward: str
    reached: bool
    missing: int


@dataclass(frozen=True, slots=True)
class FriendView:
    name: str
    status: InviteStatus
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class ReferralView:
    campaign: CampaignRead
    activity: ActivityRead
    rules: ReferralSettings
    qualify_on: QualifyOn
    closed_reason: str | None
    participant_id: int | None
    link: ShareLinkRead | None
    qualified: int
    held: int
    pending: int
    milestones: list[MilestoneView]
    friends: list[FriendView]
    leaderboard: list[LeaderRow]
    my_rank: int | None
    inviter_reward: str | None
    invitee_reward: str | None
    level2_reward: str | None
    invited_by: str | None  # the masked nickname of who invited this visitor


def view_referral(
    session: Session, *, slug: str, activity_id: int, device_id: str, referrer: str | None
) -> ReferralView:
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.REFERRAL
    )
    rules = settings_of(row)
    ws = public.workspace_id
    me = activities.participant_for(session, public=public, device_id=device_id)
    link = None
    counts: dict[str, int] = {}
    friends: list[FriendView] = []
    if me is not None:
        link = sharing.get_link(session, campaign_id=public.campaign.id, participant_id=me.id)
        mine = list(
            session.scalars(
                select(ReferralInvite)
                .where(ReferralInvite.activity_id == row.id, ReferralInvite.inviter_id == me.id)
                .order_by(ReferralInvite.joined_at.desc(), ReferralInvite.id.desc())
            )
        )
        for invite in mine:
            counts[invite.status] = counts.get(invite.status, 0) + 1
        names = _names(
            session, workspace_id=ws, ids=[i.invitee_id for i in mine[:100]], masked=True
        )
        friends = [
            FriendView(
                name=names[i.invitee_id], status=InviteStatus(i.status), joined_at=i.joined_at
            )
            for i in mine[:100]
        ]
    qualified = counts.get(InviteStatus.QUALIFIED.value, 0)
    board = leaderboard(session, activity=row, limit=10, masked=True)
    my_rank = next((r.rank for r in board if me is not None and r.participant_id == me.id), None)
    invited_by = None
    code = referrer
    if code:
        found = sharing.get_link_by_code(session, code=code)
        if (
            found is not None
            and found.campaign_id == public.campaign.id
            and (me is None or found.participant_id != me.id)
        ):
            invited_by = _names(session, workspace_id=ws, ids=[found.participant_id], masked=True)[
                found.participant_id
            ]

    def milestone(m: Milestone) -> MilestoneView:
        return MilestoneView(
            friends=m.friends,
            reward=describe(session, workspace_id=ws, reward=m.reward) or "",
            reached=qualified >= m.friends,
            missing=max(m.friends - qualified, 0),
        )

    return ReferralView(
        campaign=public.campaign,
        activity=activities.to_read(row),
        rules=rules,
        qualify_on=rules.qualify_on,
        closed_reason=activities.closed_reason(public.campaign),
        participant_id=me.id if me else None,
        link=link,
        qualified=qualified,
        held=counts.get(InviteStatus.HELD.value, 0),
        pending=counts.get(InviteStatus.PENDING.value, 0),
        milestones=[milestone(m) for m in rules.milestones],
        friends=friends,
        leaderboard=board,
        my_rank=my_rank,
        inviter_reward=describe(session, workspace_id=ws, reward=rules.inviter_reward),
        invitee_reward=describe(session, workspace_id=ws, reward=rules.invitee_reward),
        level2_reward=describe(session, workspace_id=ws, reward=rules.level2_reward)
        if rules.levels >= 2
        else None,
        invited_by=invited_by,
    )
