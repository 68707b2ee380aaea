"""What the brand and participants see of a group-buy: the offer's teams and members, the
offer page, and a team's page behind its link (an open team past its deadline reads as failed
at once, before the job has marked it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.formats.common import console_activity
from im2.activities.formats.groupbuy.models import GroupbuyMember, GroupbuyTeam
from im2.activities.formats.groupbuy.schemas import (
    GroupbuyStats,
    Offer,
    TeamRead,
    TeamRow,
    TeamStatus,
)
from im2.activities.formats.groupbuy.service import find_team, offer_of, status_now, team_read
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.campaigns.schemas import CampaignRead
from im2.workspaces.schemas import Actor

OPEN_TEAMS_SHOWN = 5


def groupbuy_stats(
    session: Session, *, actor: Actor, activity_id: int, now: datetime
) -> GroupbuyStats:
    row = console_activity(
        session, actor=actor, activity_id=activity_id, kind=ActivityKind.GROUPBUY
    )
    teams = list(
        session.scalars(
            select(GroupbuyTeam)
            .where(GroupbuyTeam.activity_id == row.id)
            .order_by(GroupbuyTeam.created_at.desc(), GroupbuyTeam.id.desc())
        )
    )
    statuses = [status_now(t, now=now) for t in teams]
    return GroupbuyStats(
        activity_id=row.id,
        title=row.title,
        offer=offer_of(row),
        teams=len(teams),
        open=statuses.count(TeamStatus.OPEN),
        succeeded=statuses.count(TeamStatus.SUCCEEDED),
        failed=statuses.count(TeamStatus.FAILED),
        members=sum(t.member_count for t in teams),
        buyers=sum(
            t.member_count for t, s in zip(teams, statuses, strict=True) if s == "succeeded"
        ),
        rows=[
            TeamRow(
                id=t.id,
                code=t.code,
                status=s,
                leader_id=t.leader_id,
                size=t.size,
                members=t.member_count,
                created_at=t.created_at,
                expires_at=t.expires_at,
                closed_at=t.closed_at,
            )
            for t, s in zip(teams, statuses, strict=True)
        ],
    )


def export_members(
    session: Session, *, actor: Actor, activity_id: int, now: datetime
) -> Iterator[dict[str, Any]]:
    row = console_activity(
        session, actor=actor, activity_id=activity_id, kind=ActivityKind.GROUPBUY
    )
    members = session.execute(
        select(GroupbuyMember, GroupbuyTeam)
        .join(GroupbuyTeam, GroupbuyTeam.id == GroupbuyMember.team_id)
        .where(GroupbuyMember.activity_id == row.id)
        .order_by(GroupbuyTeam.id, GroupbuyMember.id)
    )
    for member, team in members:
        yield {
            "team": team.code,
            "team_status": status_now(team, now=now).value,
            "participant_id": member.participant_id,
            "leader": member.participant_id == team.leader_id,
            "joined_at": member.joined_at.isoformat(),
            "team_size": team.size,
            "team_members": team.member_count,
            "expires_at": team.expires_at.isoformat(),
            "held_for_review": member.held,
            "risk_reasons": member.risk_reasons or "",
        }


@dataclass(frozen=True, slots=True)
class OfferView:
    campaign: CampaignRead
    activity: ActivityRead
    offer: Offer
    saving: Decimal
    closed_reason: str | None
    my_team: TeamRead | None
    open_teams: list[TeamRead]
    can_open: bool
    participant_id: int | None


def view_offer(
    session: Session, *, slug: str, activity_id: int, device_id: str, now: datetime
) -> OfferView:
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.GROUPBUY
    )
    participant = activities.participant_for(session, public=public, device_id=device_id)
    mine = (
        session.scalar(
            select(GroupbuyTeam)
            .join(GroupbuyMember, GroupbuyMember.team_id == GroupbuyTeam.id)
            .where(
                GroupbuyMember.activity_id == row.id,
                GroupbuyMember.participant_id == participant.id,
            )
            .order_by(GroupbuyTeam.created_at.desc(), GroupbuyTeam.id.desc())
            .limit(1)
        )
        if participant
        else None
    )
    my_team = team_read(mine, slug=slug, now=now) if mine else None
    open_rows = session.scalars(
        select(GroupbuyTeam)
        .where(
            GroupbuyTeam.activity_id == row.id,
            GroupbuyTeam.status == TeamStatus.OPEN.value,
            GroupbuyTeam.expires_at > now,
        )
        .order_by(GroupbuyTeam.member_count.desc(), GroupbuyTeam.expires_at)
        .limit(OPEN_TEAMS_SHOWN + 1)
    )
    open_teams = [
        team_read(t, slug=slug, now=now) for t in open_rows if mine is None or t.id != mine.id
    ][:OPEN_TEAMS_SHOWN]
    reason = activities.closed_reason(public.campaign)
    offer = offer_of(row)
    return OfferView(
        campaign=public.campaign,
        activity=activities.to_read(row),
        offer=offer,
        saving=offer.original_price - offer.price,
        closed_reason=reason,
        my_team=my_team,
        open_teams=open_teams if reason is None else [],
        can_open=reason is None and (my_team is None or my_team.status is not TeamStatus.OPEN),
        participant_id=participant.id if participant else None,
    )


@dataclass(frozen=True, slots=True)
class TeamView:
    campaign: CampaignRead
    activity: ActivityRead
    offer: Offer
    team: TeamRead
    closed_reason: str | None
    is_member: bool
    can_join: bool
    participant_id: int | None


def view_team(
    session: Session, *, slug: str, activity_id: int, code: str, device_id: str, now: datetime
) -> TeamView:
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.GROUPBUY
    )
    team = find_team(session, activity_id=row.id, code=code)
    participant = activities.participant_for(session, public=public, device_id=device_id)
    is_member = bool(
        participant
        and session.scalar(
            select(func.count())
            .select_from(GroupbuyMember)
            .where(
                GroupbuyMember.team_id == team.id, GroupbuyMember.participant_id == participant.id
            )
        )
    )
    read = team_read(team, slug=slug, now=now)
    reason = activities.closed_reason(public.campaign)
    return TeamView(
        campaign=public.campaign,
        activity=activities.to_read(row),
        offer=offer_of(row),
        team=read,
        closed_reason=reason,
        is_member=is_member,
        can_join=reason is None and not is_member and read.status is TeamStatus.OPEN,
        participant_id=participant.id if participant else None,
    )
