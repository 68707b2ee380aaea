"""Group-buy (拼团): a participant opens a team for an offer that needs N members within T
hours; others join through the team's link; a full team succeeds for everyone, a team still
short at its deadline fails.

A team never holds more than N members, whatever the concurrency: a join moves the team's
member counter with one conditional UPDATE (`member_count < size AND status = 'open' AND
expires_at > now`), which PostgreSQL re-checks on the locked row and SQLite runs in serialised
write transactions; a CHECK constraint backs it. One open team per person and offer is a
partial unique index. Expired teams are marked failed by a job, and read as failed at once.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.formats.common import add_activity, participant_event, update_texts
from im2.activities.formats.groupbuy.models import GroupbuyMember, GroupbuyTeam
from im2.activities.formats.groupbuy.schemas import (
    GroupbuyCreate,
    Offer,
    TeamRead,
    TeamStatus,
)
from im2.activities.models import Activity
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.errors import Conflict, InvalidInput, NotFound
from im2.events.schemas import EventKind
from im2.i18n import _
from im2.participation.schemas import Visitor
from im2.workspaces.schemas import Actor

# Team codes are read aloud and typed from screenshots: no 0/O, 1/I/L, and no punctuation.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def offer_of(activity: Activity) -> Offer:
    return Offer.model_validate(activity.settings)


def team_path(slug: str, activity_id: int, code: str) -> str:
    return f"/c/{slug}/groupbuy/{activity_id}/team/{code}"


def status_now(team: GroupbuyTeam, *, now: datetime) -> TeamStatus:
    if team.status == TeamStatus.OPEN.value and team.expires_at <= now:
        return TeamStatus.FAILED
    return TeamStatus(team.status)


def team_read(team: GroupbuyTeam, *, slug: str, now: datetime) -> TeamRead:
    return TeamRead(
        activity_id=team.activity_id,
        code=team.code,
        status=status_now(team, now=now),
        size=team.size,
        members=team.member_count,
        slots_left=max(team.size - team.member_count, 0),
        created_at=team.created_at,
        expires_at=team.expires_at,
        closed_at=team.closed_at,
        share_path=team_path(slug, team.activity_id, team.code),
    )


def _changed(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def members_of(session: Session, *, team_id: int) -> list[GroupbuyMember]:
    return list(
        session.scalars(
            select(GroupbuyMember)
            .where(GroupbuyMember.team_id == team_id)
            .order_by(GroupbuyMember.id)
        )
    )


def _team_event(
    session: Session, *, activity: Activity, team: GroupbuyTeam, kind: EventKind, now: datetime
) -> None:
    """One event per member: each person's order succeeds or fails."""
    for member in members_of(session, team_id=team.id):
        participant_event(
            session,
            kind,
            activity=activity,
            participant_id=member.participant_id,
            now=now,
            properties={"team": team.code, "size": team.size, "members": team.member_count},
        )


def _close(session: Session, *, team: GroupbuyTeam, status: TeamStatus, now: datetime) -> None:
    session.execute(
        update(GroupbuyMember)
        .where(GroupbuyMember.team_id == team.id)
        .values(active=False)
        .execution_options(synchronize_session=False)
    )
    session.refresh(team)
    activity = session.get(Activity, team.activity_id)
    if activity is not None:
        kind = EventKind.GROUPBUY_SUCCEEDED
        if status is TeamStatus.FAILED:
            kind = EventKind.GROUPBUY_FAILED
        _team_event(session, activity=activity, team=team, kind=kind, now=now)


def expired_team_ids(
    session: Session, *, now: datetime, activity_id: int | None = None
) -> list[int]:
    """Open teams past their deadline (all offers, or one), oldest first."""
    query = select(GroupbuyTeam.id).where(
        GroupbuyTeam.status == TeamStatus.OPEN.value, GroupbuyTeam.expires_at <= now
    )
    if activity_id is not None:
        query = query.where(GroupbuyTeam.activity_id == activity_id)
    return list(session.scalars(query.order_by(GroupbuyTeam.id)))


def expire_team(session: Session, *, team_id: int, now: datetime) -> bool:
    """Mark one open team past its deadline failed (and tell its members through the failure
    event); whether this call closed it. Idempotent: the team is closed by a conditional
    UPDATE, so its events are recorded once."""
    done = session.execute(
        update(GroupbuyTeam)
        .where(
            GroupbuyTeam.id == team_id,
            GroupbuyTeam.status == TeamStatus.OPEN.value,
            GroupbuyTeam.expires_at <= now,
        )
        .values(status=TeamStatus.FAILED.value, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    team = session.get(GroupbuyTeam, team_id)
    if _changed(done) != 1 or team is None:
        return False
    _close(session, team=team, status=TeamStatus.FAILED, now=now)
    return True


def expire_teams(session: Session, *, now: datetime, activity_id: int | None = None) -> int:
    """`expire_team` for every open team past its deadline (all offers, or one), in the
    caller's transaction; how many it closed. (The job gives each team a transaction.)"""
    return sum(
        expire_team(session, team_id=team_id, now=now)
        for team_id in expired_team_ids(session, now=now, activity_id=activity_id)
    )


# --- console -----------------------------------------------------------------------------------


def do_create_groupbuy(
    session: Session, *, actor: Actor, campaign_id: int, data: GroupbuyCreate, now: datetime
) -> ActivityRead:
    if data.price >= data.original_price:
        raise InvalidInput(
            _("The group price must be lower than the original price."), field="price"
        )
    offer = Offer(
        product=data.product,
        price=data.price,
        original_price=data.original_price,
        team_size=data.team_size,
        hours=data.hours,
    )
    row = add_activity(
        session,
        ActivityKind.GROUPBUY,
        actor=actor,
        campaign_id=campaign_id,
        data=data,
        settings=offer.model_dump(mode="json"),
        now=now,
    )
    return activities.to_read(row)


do_update_groupbuy = update_texts(ActivityKind.GROUPBUY)


# --- participants ------------------------------------------------------------------------------


def _open_team_of(
    session: Session, *, activity_id: int, participant_id: int
) -> GroupbuyTeam | None:
    return session.scalar(
        select(GroupbuyTeam)
        .join(GroupbuyMember, GroupbuyMember.team_id == GroupbuyTeam.id)
        .where(
            GroupbuyMember.activity_id == activity_id,
            GroupbuyMember.participant_id == participant_id,
            GroupbuyMember.active.is_(True),
        )
    )


def _add_member(
    session: Session, *, team: GroupbuyTeam, participant_id: int, acting: Any, now: datetime
) -> None:
    try:
        with session.begin_nested():
            session.add(
                GroupbuyMember(
                    team_id=team.id,
                    activity_id=team.activity_id,
                    participant_id=participant_id,
                    joined_at=now,
                    active=True,
                    held=acting.held,
                    risk_reasons="; ".join(acting.risk.reasons)[:500] or None,
                )
            )
            session.flush()
    except IntegrityError:
        # A racing request of the same person got there first.
        raise Conflict(_("You are already in a team for this offer.")) from None


def _event(
    session: Session,
    *,
    kind: EventKind,
    activity: Activity,
    participant_id: int,
    visitor: Visitor,
    team: GroupbuyTeam,
    now: datetime,
) -> None:
    participant_event(
        session,
        kind,
        activity=activity,
        participant_id=participant_id,
        now=now,
        visitor=visitor,
        properties={"team": team.code, "size": team.size},
    )


def do_open_team(
    session: Session,
    *,
    slug: str,
    activity_id: int,
    visitor: Visitor,
    consented: bool,
    seconds_on_page: float | None,
    risk_threshold: float,
    identities_per_ip_hour: int,
    now: datetime,
) -> TeamRead:
    """Open a team with the visitor as its first member (and leader)."""
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.GROUPBUY
    )
    activities.require_open(public)
    expire_teams(session, now=now, activity_id=row.id)
    acting = activities.join_and_assess(
        session,
        public=public,
        visitor=visitor,
        consented=consented,
        seconds_on_page=seconds_on_page,
        risk_threshold=risk_threshold,
        identities_per_ip_hour=identities_per_ip_hour,
        now=now,
    )
    pid = acting.participant.id
    if _open_team_of(session, activity_id=row.id, participant_id=pid) is not None:
        raise Conflict(_("You are already in an open team for this offer."))
    offer = offer_of(row)
    team = GroupbuyTeam(
        activity_id=row.id,
        code=new_code(),
        leader_id=pid,
        size=offer.team_size,
        member_count=1,
        status=TeamStatus.OPEN.value,
        created_at=now,
        expires_at=now + timedelta(hours=offer.hours),
        closed_at=None,
    )
    session.add(team)
    session.flush()
    _add_member(session, team=team, participant_id=pid, acting=acting, now=now)
    _event(
        session,
        kind=EventKind.GROUPBUY_OPENED,
        activity=row,
        participant_id=pid,
        visitor=visitor,
        team=team,
        now=now,
    )
    return team_read(team, slug=slug, now=now)


def find_team(session: Session, *, activity_id: int, code: str) -> GroupbuyTeam:
    team = session.scalar(
        select(GroupbuyTeam).where(
            GroupbuyTeam.activity_id == activity_id, GroupbuyTeam.code == code
        )
    )
    if team is None:
        raise NotFound(_("There is no team with this link; ask for a new one."))
    return team


def do_join_team(
    session: Session,
    *,
    slug: str,
    activity_id: int,
    code: str,
    visitor: Visitor,
    consented: bool,
    seconds_on_page: float | None,
    risk_threshold: float,
    identities_per_ip_hour: int,
    now: datetime,
) -> TeamRead:
    """Join a team through its link; the member who fills it makes it succeed for all."""
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.GROUPBUY
    )
    activities.require_open(public)
    team = find_team(session, activity_id=row.id, code=code)
    expire_teams(session, now=now, activity_id=row.id)
    session.refresh(team)
    if team.status == TeamStatus.FAILED.value:
        raise Conflict(_("This team did not fill up in time and has closed."))
    if team.status == TeamStatus.SUCCEEDED.value:
        raise Conflict(_("This team is already full."))
    acting = activities.join_and_assess(
        session,
        public=public,
        visitor=visitor,
        consented=consented,
        seconds_on_page=seconds_on_page,
        risk_threshold=risk_threshold,
        identities_per_ip_hour=identities_per_ip_hour,
        now=now,
    )
    pid = acting.participant.id
    mine = _open_team_of(session, activity_id=row.id, participant_id=pid)
    if mine is not None:
        if mine.id == team.id:
            raise Conflict(_("You are already in this team."))
        raise Conflict(_("You are already in an open team for this offer."))
    if session.scalar(
        select(GroupbuyMember.id).where(
            GroupbuyMember.team_id == team.id, GroupbuyMember.participant_id == pid
        )
    ):
        raise Conflict(_("You are already in this team."))
    _add_member(session, team=team, participant_id=pid, acting=acting, now=now)
    taken = session.execute(
        update(GroupbuyTeam)
        .where(
            GroupbuyTeam.id == team.id,
            GroupbuyTeam.status == TeamStatus.OPEN.value,
            GroupbuyTeam.member_count < GroupbuyTeam.size,
            GroupbuyTeam.expires_at > now,
        )
        .values(member_count=GroupbuyTeam.member_count + 1)
        .execution_options(synchronize_session=False)
    )
    if _changed(taken) != 1:
        # Somebody else took the last place; raising rolls back this member row too.
        raise Conflict(_("This team is already full."))
    session.refresh(team)
    _event(
        session,
        kind=EventKind.GROUPBUY_JOINED,
        activity=row,
        participant_id=pid,
        visitor=visitor,
        team=team,
        now=now,
    )
    filled = session.execute(
        update(GroupbuyTeam)
        .where(
            GroupbuyTeam.id == team.id,
            GroupbuyTeam.status == TeamStatus.OPEN.value,
            GroupbuyTeam.member_count == GroupbuyTeam.size,
        )
        .values(status=TeamStatus.SUCCEEDED.value, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    if _changed(filled) == 1:
        _close(session, team=team, status=TeamStatus.SUCCEEDED, now=now)
    session.refresh(team)
    return team_read(team, slug=slug, now=now)
