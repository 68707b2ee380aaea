"""Referral: what a qualified invite gives, once each (rewards, milestones), and the evidence
that holds it for the brand's review when it looks like self-referral.

Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.activities.formats.common import participant_event
from im2.activities.formats.referral import abuse
from im2.activities.formats.referral.models import (
    ReferralClick,
    ReferralInvite,
    ReferralMilestone,
)
from im2.activities.formats.referral.schemas import (
    InviteStatus,
    ReferralSettings,
    Reward,
)
from im2.activities.models import Activity
from im2.activities.schemas import ActivityKind
from im2.config import get_settings
from im2.events.schemas import EventKind, EventRecord
from im2.i18n import N_, _, use_locale
from im2.incentives import service as incentives
from im2.incentives.schemas import RewardKind, RewardSpec
from im2.participation import service as participation
from im2.participation.service import Signals
from im2.sharing import service as sharing


@dataclass
class Run:
    """What one batch looks up more than once."""

    session: Session
    now: datetime
    referrals: dict[int, list[Activity]] = field(default_factory=dict)  # by campaign
    clicks_seen: set[tuple[int, str, int]] = field(default_factory=set)

    def forget(self) -> None:
        self.referrals.clear()
        self.clicks_seen.clear()

    def referrals_of(self, campaign_id: int | None) -> list[Activity]:
        if campaign_id is None:
            return []
        if campaign_id not in self.referrals:
            self.referrals[campaign_id] = list(
                self.session.scalars(
                    select(Activity)
                    .where(
                        Activity.campaign_id == campaign_id,
                        Activity.kind == ActivityKind.REFERRAL.value,
                    )
                    .order_by(Activity.id)
                )
            )
        return self.referrals[campaign_id]

    def followed(self, campaign_id: int, device_id: str) -> set[int]:
        """Whose links this device has followed in this campaign."""
        return set(
            self.session.scalars(
                select(ReferralClick.sharer_id).where(
                    ReferralClick.campaign_id == campaign_id,
                    ReferralClick.device_id == device_id,
                )
            )
        )


def changed(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def _evidence(run: Run, *, rules: ReferralSettings, invite: ReferralInvite) -> dict[str, Any]:
    """Why this invite looks like self-referral: {"reasons": [...], "details": {...}}."""
    session = run.session
    ids = [invite.inviter_id, invite.invitee_id]
    signals = participation.get_signals(
        session, workspace_id=invite.workspace_id, participant_ids=ids
    )
    details: dict[str, Any] = {}
    inviter, invitee = signals.get(invite.inviter_id), signals.get(invite.invitee_id)
    if inviter is not None and invitee is not None:
        details.update(abuse.pair_evidence(inviter, invitee))
    ring = _ring(run, invite=invite, known=signals)
    if ring is not None:
        details["ring"] = " → ".join(f"#{p}" for p in ring)
    window = timedelta(minutes=rules.burst_minutes)
    nearby = session.scalars(
        select(ReferralInvite.joined_at).where(
            ReferralInvite.activity_id == invite.activity_id,
            ReferralInvite.share_code == invite.share_code,
            ReferralInvite.joined_at > invite.joined_at - window,
            ReferralInvite.joined_at <= invite.joined_at,
        )
    )
    count = abuse.burst(invite.joined_at, nearby, window=window, limit=rules.burst_max)
    if count is not None:
        details["burst"] = _ledger_text(
            N_("{count} sign-ups through link {code} within {minutes} min"),
            count=count,
            code=invite.share_code,
            minutes=rules.burst_minutes,
        )
    if not details:
        return {}
    return {
        "reasons": sorted(details),
        "details": details,
        "inviter": invite.inviter_id,
        "invitee": invite.invitee_id,
        "share_code": invite.share_code,
        "activity": invite.activity_id,
        "invite": invite.id,
    }


def _ring(run: Run, *, invite: ReferralInvite, known: dict[int, Signals]) -> list[int] | None:
    """A short loop through the invitee in the graph "followed a link of": the invitee followed
    the inviter's link; if the inviter (or someone the inviter followed) followed the invitee's,
    they invite each other."""
    session, campaign_id = run.session, invite.campaign_id
    cache = dict(known)

    def neighbours(pid: int) -> set[int]:
        if pid not in cache:
            cache.update(
                participation.get_signals(
                    session, workspace_id=invite.workspace_id, participant_ids=[pid]
                )
            )
        found = cache.get(pid)
        if found is None:
            return set()
        out = run.followed(campaign_id, found.device_id)
        if found.referred_by:
            link = sharing.get_link_by_code(session, code=found.referred_by)
            if link is not None and link.campaign_id == campaign_id:
                out.add(link.participant_id)
        if pid == invite.invitee_id:
            out.add(invite.inviter_id)
        out.discard(pid)
        return out

    return abuse.find_ring(invite.invitee_id, neighbours)


def spec_of(reward: Reward) -> RewardSpec:
    return RewardSpec(
        kind=RewardKind(reward.kind),
        points=reward.points if reward.kind == "points" else None,
        pool_id=reward.pool_id if reward.kind == "coupon" else None,
        prize_id=reward.prize_id if reward.kind == "prize" else None,
    )


def _ledger_text(message: str, **values: object) -> str:
    """A reward's reason as the ledger keeps it: written once, in the installation's language
    (IM2_DEFAULT_LOCALE, Chinese by default) like the campaign's own texts, because the
    participant's page and the console both show the stored words."""
    with use_locale(get_settings().default_locale):
        return _(message).format(**values)[:200]


def _grant(
    run: Run,
    *,
    invite: ReferralInvite,
    participant_id: int,
    reward: Reward | None,
    key: str,
    reason: str,
    hold: bool,
    evidence: dict[str, Any],
) -> str | None:
    if reward is None:
        return None
    spec = spec_of(reward)
    result = incentives.grant_reward(
        run.session,
        workspace_id=invite.workspace_id,
        campaign_id=invite.campaign_id,
        participant_id=participant_id,
        reward=spec,
        key=key,
        reason=reason,
        now=run.now,
        evidence=evidence or None,
        hold=hold,
        activity_id=invite.activity_id,
    )
    return result.status


def qualify(
    run: Run,
    *,
    activity: Activity,
    rules: ReferralSettings,
    invite: ReferralInvite,
    ev: EventRecord,
) -> None:
    session = run.session
    evidence = _evidence(run, rules=rules, invite=invite)
    held = bool(evidence)
    if not _mark_qualified(session, invite=invite, held=held, ev=ev):
        return  # qualified by a concurrent or earlier run
    grants = _grant_rewards(run, activity=activity, rules=rules, invite=invite, evidence=evidence)
    session.execute(
        update(ReferralInvite)
        .where(ReferralInvite.id == invite.id)
        .values(evidence={**evidence, "grants": {k: v for k, v in grants.items() if v}})
        .execution_options(synchronize_session=False)
    )
    participant_event(
        session,
        EventKind.REFERRAL_QUALIFIED,
        activity=activity,
        participant_id=invite.invitee_id,
        now=run.now,
        referrer=invite.share_code,
        properties={
            "inviter": invite.inviter_id,
            "level2": invite.level2_id if rules.levels >= 2 else None,
            "by": ev.kind,
            "held": held,
            "reasons": evidence.get("reasons", []),
        },
    )
    milestones(run, activity=activity, rules=rules, inviter_id=invite.inviter_id)


def _mark_qualified(
    session: Session, *, invite: ReferralInvite, held: bool, ev: EventRecord
) -> bool:
    """Move a pending invite to qualified (or held); False when another run moved it first."""
    status = InviteStatus.HELD if held else InviteStatus.QUALIFIED
    moved = session.execute(
        update(ReferralInvite)
        .where(
            ReferralInvite.id == invite.id,
            ReferralInvite.status == InviteStatus.PENDING.value,
        )
        .values(
            status=status.value,
            qualified_at=ev.occurred_at,
            qualified_by=ev.kind,
            qualify_event_id=ev.id,
        )
        .execution_options(synchronize_session=False)
    )
    return changed(moved) == 1


def _grant_rewards(
    run: Run,
    *,
    activity: Activity,
    rules: ReferralSettings,
    invite: ReferralInvite,
    evidence: dict[str, Any],
) -> dict[str, str | None]:
    """Each role's reward for a qualified invite (inviter, friend, then level 2): the grant's
    status by role."""
    base = f"referral:{activity.id}:{invite.invitee_id}"
    level2_id = invite.level2_id if rules.levels >= 2 else None
    names = {"title": activity.title, "inviter": invite.inviter_id, "invitee": invite.invitee_id}
    roles: list[tuple[str, int, Reward | None, str]] = [
        ("inviter", invite.inviter_id, rules.inviter_reward, N_("{title}: invited #{invitee}")),
        (
            "invitee",
            invite.invitee_id,
            rules.invitee_reward,
            N_("{title}: joined through #{inviter}'s invitation"),
        ),
    ]
    if level2_id is not None:
        roles.append(
            (
                "level2",
                level2_id,
                rules.level2_reward,
                N_("{title}: #{inviter} (whom you invited) invited #{invitee}"),
            )
        )
    # When held, the brand's decision on one reward settles the invite: the inviter's, else
    # the friend's, else the level-2 one (see _on_review).
    decider = next((role for role, _id, reward, _text in roles if reward is not None), None)
    grants: dict[str, str | None] = {}
    for role, participant_id, reward, text in roles:
        grants[role] = _grant(
            run,
            invite=invite,
            participant_id=participant_id,
            reward=reward,
            key=f"{base}:{role}",
            reason=_ledger_text(text, **names),  # format() passes over names it has no use for
            hold=bool(evidence),
            evidence={**evidence, "decides_invite": role == decider} if evidence else {},
        )
    return grants


def milestones(run: Run, *, activity: Activity, rules: ReferralSettings, inviter_id: int) -> None:
    session = run.session
    counts = dict(
        session.execute(
            select(ReferralInvite.status, func.count())
            .where(
                ReferralInvite.activity_id == activity.id,
                ReferralInvite.inviter_id == inviter_id,
                ReferralInvite.status.in_([InviteStatus.QUALIFIED.value, InviteStatus.HELD.value]),
            )
            .group_by(ReferralInvite.status)
        ).all()
    )
    clean = int(counts.get(InviteStatus.QUALIFIED.value, 0))
    total = clean + int(counts.get(InviteStatus.HELD.value, 0))
    for milestone in rules.milestones:
        if milestone.friends > total:
            break
        # Reached only thanks to invites held for review: held as well.
        held = clean < milestone.friends
        try:
            with session.begin_nested():
                session.add(
                    ReferralMilestone(
                        activity_id=activity.id,
                        inviter_id=inviter_id,
                        friends=milestone.friends,
                        reached_at=run.now,
                        held=held,
                    )
                )
                session.flush()
        except IntegrityError:
            continue  # reached before
        evidence: dict[str, Any] = {}
        if held:
            held_ids = list(
                session.scalars(
                    select(ReferralInvite.invitee_id).where(
                        ReferralInvite.activity_id == activity.id,
                        ReferralInvite.inviter_id == inviter_id,
                        ReferralInvite.status == InviteStatus.HELD.value,
                    )
                )
            )
            evidence = {
                "reasons": ["held_invites"],
                "details": {"held_invites": ", ".join(f"#{i}" for i in held_ids)},
                "inviter": inviter_id,
            }
        status = _grant_milestone(
            run,
            activity=activity,
            inviter_id=inviter_id,
            reward=milestone.reward,
            friends=milestone.friends,
            held=held,
            evidence=evidence,
        )
        participant_event(
            session,
            EventKind.REFERRAL_MILESTONE,
            activity=activity,
            participant_id=inviter_id,
            now=run.now,
            properties={"friends": milestone.friends, "held": held, "grant": status},
        )


def _grant_milestone(
    run: Run,
    *,
    activity: Activity,
    inviter_id: int,
    reward: Reward,
    friends: int,
    held: bool,
    evidence: dict[str, Any],
) -> str:
    spec = spec_of(reward)
    return incentives.grant_reward(
        run.session,
        workspace_id=activity.workspace_id,
        campaign_id=activity.campaign_id,
        participant_id=inviter_id,
        reward=spec,
        key=f"referral:{activity.id}:{inviter_id}:milestone:{friends}",
        reason=_ledger_text(
            N_("{title}: {friends} friends qualified"), title=activity.title, friends=friends
        ),
        now=run.now,
        evidence=evidence or None,
        hold=held,
        activity_id=activity.id,
    ).status
