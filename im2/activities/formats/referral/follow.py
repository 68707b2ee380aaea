"""Referral's follower of the event log: clicks, invites and their qualification.

A job follows the event log with a cursor (`isolation.follow_events`: each event in a
savepoint, one that fails is dead-lettered and passed over). A join through a link creates the
invite (pending); the invitee's qualifying action qualifies it once (`rewards.qualify`).

Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2 import isolation
from im2.activities.formats.referral import rewards
from im2.activities.formats.referral.models import (
    ReferralClick,
    ReferralCursor,
    ReferralInvite,
)
from im2.activities.formats.referral.rewards import Run
from im2.activities.formats.referral.schemas import (
    INTERACTION_KINDS,
    InviteStatus,
    QualifyOn,
)
from im2.activities.formats.referral.service import settings_of
from im2.activities.models import Activity
from im2.events.schemas import ActorType, EventKind, EventRecord
from im2.events.service import record_event
from im2.participation import service as participation
from im2.sharing import service as sharing

CURSOR = "referral"
FOLLOWER = "referral_qualify"  # the job's name, in logs and dead letters
BATCH = 500
FOLLOWED_KINDS: tuple[str, ...] = tuple(
    k.value
    for k in (
        EventKind.SHARE_CLICKED,
        EventKind.PARTICIPANT_JOINED,
        EventKind.PARTICIPANT_VERIFIED,
        *INTERACTION_KINDS,
        EventKind.CONVERSION_RECORDED,
        EventKind.REWARD_APPROVED,
        EventKind.REWARD_VOIDED,
    )
)


def process_events(session: Session, *, now: datetime, settle: timedelta) -> int:
    """Handle up to BATCH events after the cursor (all workspaces); returns how many were read.
    Events younger than `settle` are left for a later run."""
    run = Run(session=session, now=now)
    return isolation.follow_events(
        session,
        cursor=ReferralCursor,
        name=CURSOR,
        job=FOLLOWER,
        handle=lambda ev: _handle(run, ev),
        now=now,
        batch=BATCH,
        settle=settle,
        kinds=FOLLOWED_KINDS,
        forget=run.forget,  # what the failed event looked up may have been rolled back with it
    ).read


def _participant_of(ev: EventRecord) -> int | None:
    if ev.kind == EventKind.CONVERSION_RECORDED.value:
        for key in ("participant_id", "participant"):
            value = ev.properties.get(key)
            if isinstance(value, int):
                return value
            if isinstance(value, str) and value.isdecimal():
                return int(value)
    if ev.actor_type == ActorType.PARTICIPANT.value and ev.actor_id and ev.actor_id.isdecimal():
        return int(ev.actor_id)
    return None


def _record_click(run: Run, ev: EventRecord) -> None:
    device, sharer = ev.properties.get("device"), ev.properties.get("sharer")
    if ev.campaign_id is None or not isinstance(device, str) or not isinstance(sharer, int):
        return
    pair = (ev.campaign_id, device[:40], sharer)
    if pair in run.clicks_seen:
        return
    run.clicks_seen.add(pair)
    query = select(ReferralClick.id).where(
        ReferralClick.campaign_id == pair[0],
        ReferralClick.device_id == pair[1],
        ReferralClick.sharer_id == pair[2],
    )
    if run.session.scalar(query) is not None:
        return
    try:
        with run.session.begin_nested():
            run.session.add(
                ReferralClick(
                    campaign_id=pair[0],
                    device_id=pair[1],
                    sharer_id=pair[2],
                    first_at=ev.occurred_at,
                )
            )
            run.session.flush()
    except IntegrityError:
        pass  # recorded by a concurrent run


def _handle(run: Run, ev: EventRecord) -> None:
    if ev.kind == EventKind.SHARE_CLICKED.value:
        _record_click(run, ev)
        return
    if ev.kind in (EventKind.REWARD_APPROVED.value, EventKind.REWARD_VOIDED.value):
        _on_review(run, ev)
        return
    pid = _participant_of(ev)
    if pid is None:
        return
    if ev.kind == EventKind.PARTICIPANT_JOINED.value and ev.referrer:
        _record_invites(run, ev, invitee_id=pid)
    pending = list(
        run.session.scalars(
            select(ReferralInvite)
            .where(
                ReferralInvite.invitee_id == pid,
                ReferralInvite.workspace_id == ev.workspace_id,
                ReferralInvite.status == InviteStatus.PENDING.value,
            )
            .order_by(ReferralInvite.id)
        )
    )
    for invite in pending:
        activity = run.session.get(Activity, invite.activity_id)
        if activity is None:
            continue
        rules = settings_of(activity)
        if _qualifies(rules.qualify_on, ev, invite):
            rewards.qualify(run, activity=activity, rules=rules, invite=invite, ev=ev)


def _qualifies(qualify_on: QualifyOn, ev: EventRecord, invite: ReferralInvite) -> bool:
    if ev.occurred_at < invite.joined_at:
        return False
    if qualify_on is QualifyOn.JOINED:
        return ev.kind == EventKind.PARTICIPANT_JOINED.value
    if qualify_on is QualifyOn.VERIFIED:
        return ev.kind == EventKind.PARTICIPANT_VERIFIED.value
    if qualify_on is QualifyOn.INTERACTION:
        return ev.kind in INTERACTION_KINDS and ev.campaign_id == invite.campaign_id
    return ev.kind == EventKind.CONVERSION_RECORDED.value and ev.campaign_id in (
        None,
        invite.campaign_id,
    )


def _record_invites(run: Run, ev: EventRecord, *, invitee_id: int) -> None:
    """The join of someone who came through a share link of a campaign with a referral."""
    assert ev.referrer is not None
    referrals = [a for a in run.referrals_of(ev.campaign_id) if a.created_at <= ev.occurred_at]
    if not referrals:
        return
    link = sharing.get_link_by_code(run.session, code=ev.referrer)
    # A code of another campaign (or a forged cookie) is not an edge of this campaign's tree.
    if link is None or link.campaign_id != ev.campaign_id or link.participant_id == invitee_id:
        return
    inviter_id = link.participant_id
    level2_id: int | None = None
    inviter = participation.get_signals(
        run.session, workspace_id=ev.workspace_id, participant_ids=[inviter_id]
    ).get(inviter_id)
    if inviter is not None and inviter.referred_by:
        up = sharing.get_link_by_code(run.session, code=inviter.referred_by)
        if (
            up is not None
            and up.campaign_id == ev.campaign_id
            and up.participant_id not in (inviter_id, invitee_id)
        ):
            level2_id = up.participant_id
    for activity in referrals:
        row = ReferralInvite(
            activity_id=activity.id,
            workspace_id=activity.workspace_id,
            campaign_id=activity.campaign_id,
            inviter_id=inviter_id,
            level2_id=level2_id,
            invitee_id=invitee_id,
            share_code=ev.referrer,
            channel=ev.channel,
            joined_at=ev.occurred_at,
            status=InviteStatus.PENDING.value,
            evidence={},
        )
        try:
            with run.session.begin_nested():
                run.session.add(row)
                run.session.flush()
        except IntegrityError:
            continue  # recorded by an earlier run
        record_event(
            run.session,
            kind=EventKind.REFERRAL_INVITED,
            occurred_at=ev.occurred_at,
            workspace_id=activity.workspace_id,
            campaign_id=activity.campaign_id,
            activity_id=activity.id,
            actor_type=ActorType.PARTICIPANT,
            actor_id=invitee_id,
            channel=ev.channel,
            referrer=ev.referrer,
            properties={"inviter": inviter_id, "level2": level2_id},
        )


def _on_review(run: Run, ev: EventRecord) -> None:
    """The brand approved or voided a held reward: the one that speaks for its invite (marked
    `decides_invite` in its evidence) moves the invite from held to qualified (it then counts
    for the leaderboard and milestones) or to voided."""
    evidence = ev.properties.get("evidence")
    if not isinstance(evidence, dict) or not evidence.get("decides_invite"):
        return
    invite_id = evidence.get("invite")
    invite = run.session.get(ReferralInvite, invite_id) if isinstance(invite_id, int) else None
    if invite is None or invite.workspace_id != ev.workspace_id:
        return
    approved = ev.kind == EventKind.REWARD_APPROVED.value
    status = InviteStatus.QUALIFIED if approved else InviteStatus.VOIDED
    moved = run.session.execute(
        update(ReferralInvite)
        .where(ReferralInvite.id == invite.id, ReferralInvite.status == InviteStatus.HELD.value)
        .values(status=status.value)
        .execution_options(synchronize_session=False)
    )
    if rewards.changed(moved) != 1 or not approved:
        return
    activity = run.session.get(Activity, invite.activity_id)
    if activity is not None:
        rewards.milestones(
            run, activity=activity, rules=settings_of(activity), inviter_id=invite.inviter_id
        )
