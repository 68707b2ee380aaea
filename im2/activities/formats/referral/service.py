"""Referral / invite-a-friend: who invited whom (the share tree's edges), when an invite
qualifies, and the rewards it gives, once each.

- The invite edge is the share tree's: a participant who joined through someone's share link of
  this campaign (`referred_by`) is that person's invitee. The inviter's own inviter is level 2;
  there is no level 3 (see schemas: deeper levels are pyramid selling).
- A job follows the event log with a cursor (`process_events`). A join through a link creates
  the invite (pending); the invitee's qualifying action (joining, verifying, a first
  interaction, a purchase postback) qualifies it once: a conditional UPDATE moves it from
  pending, so concurrent runs and re-runs reward nothing twice, and every grant carries a
  deterministic key that the incentives ledger keeps unique as well.
- An invite that looks like self-referral (same device, network or verified identity as the
  inviter, a ring, a burst through one link) still qualifies but its rewards are held for the
  brand's review with the evidence, never paid silently.

Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import takewhile
from typing import Any

from pydantic import ValidationError
from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2 import isolation
from im2.activities import service as activities
from im2.activities.formats.referral import abuse
from im2.activities.formats.referral.models import (
    ReferralClick,
    ReferralCursor,
    ReferralInvite,
    ReferralMilestone,
)
from im2.activities.formats.referral.schemas import (
    INTERACTION_KINDS,
    InviteStatus,
    QualifyOn,
    ReferralCreate,
    ReferralSettings,
    ReferralUpdate,
    Reward,
)
from im2.activities.models import Activity
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.config import get_settings
from im2.errors import InvalidInput
from im2.events.schemas import ActorType, EventKind, EventRecord
from im2.events.service import list_events, record_event
from im2.i18n import N_, _, use_locale
from im2.incentives import service as incentives
from im2.incentives.schemas import RewardKind, RewardSpec
from im2.participation import service as participation
from im2.participation.schemas import Visitor
from im2.participation.service import Signals
from im2.sharing import service as sharing
from im2.workspaces.schemas import Actor

CURSOR = "referral"
FOLLOWER = "referral_qualify"  # the job's name, in logs and dead letters
BATCH = 500
# On PostgreSQL an event whose transaction commits late can appear behind a higher id already
# read; events younger than this are left for the next run. SQLite commits in id order.
SETTLE_POSTGRES = timedelta(seconds=5)
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


def settings_of(activity: Activity) -> ReferralSettings:
    return ReferralSettings.model_validate(activity.settings)


def _changed(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


# --- console -----------------------------------------------------------------------------------


def _check_targets(
    session: Session, *, workspace_id: int, campaign_id: int, rules: ReferralSettings
) -> None:
    """Every coupon pool and prize named must be this campaign's."""
    pools = {p.id for p in incentives.list_pools(session, workspace_id=workspace_id)}
    prizes = {p.id for p in incentives.list_prizes(session, workspace_id=workspace_id)}
    named: list[tuple[str, Reward | None]] = [
        ("inviter_reward", rules.inviter_reward),
        ("invitee_reward", rules.invitee_reward),
        ("level2_reward", rules.level2_reward),
    ]
    named += [(f"milestones.{i}.reward", m.reward) for i, m in enumerate(rules.milestones)]
    campaign_pools = {
        p.id
        for p in incentives.list_pools(session, workspace_id=workspace_id, campaign_id=campaign_id)
    }
    campaign_prizes = {
        p.id
        for p in incentives.list_prizes(session, workspace_id=workspace_id, campaign_id=campaign_id)
    }
    for where, reward in named:
        if reward is None:
            continue
        if reward.kind == "coupon" and reward.pool_id not in campaign_pools:
            message = _("There is no such coupon pool in this campaign.")
            if reward.pool_id not in pools:
                message = _("There is no such coupon pool.")
            raise InvalidInput(message, field=where)
        if reward.kind == "prize" and reward.prize_id not in campaign_prizes:
            message = _("There is no such prize in this campaign.")
            if reward.prize_id not in prizes:
                message = _("There is no such prize.")
            raise InvalidInput(message, field=where)


def do_create_referral(
    session: Session, *, actor: Actor, campaign_id: int, data: ReferralCreate, now: datetime
) -> ActivityRead:
    rules = ReferralSettings.model_validate(data.model_dump(exclude={"title", "description"}))
    _check_targets(session, workspace_id=actor.workspace_id, campaign_id=campaign_id, rules=rules)
    row = activities.create_activity_row(
        session,
        actor=actor,
        campaign_id=campaign_id,
        kind=ActivityKind.REFERRAL,
        title=data.title,
        description=data.description,
        settings=rules.model_dump(mode="json"),
        now=now,
    )
    return activities.to_read(row)


def merged_settings(current: ReferralSettings, data: ReferralUpdate) -> ReferralSettings:
    """The rules after applying `data`; InvalidInput (naming the field) if they are not valid."""
    changes = data.model_dump(exclude_unset=True, exclude={"title", "description"}, mode="json")
    try:
        return ReferralSettings.model_validate({**current.model_dump(mode="json"), **changes})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or None
        raise InvalidInput(str(first.get("msg")), field=where) from None


def do_update_referral(
    session: Session, *, actor: Actor, activity_id: int, data: ReferralUpdate, now: datetime
) -> ActivityRead:
    row = activities.load_activity(
        session, actor=actor, activity_id=activity_id, kind=ActivityKind.REFERRAL
    )
    rules = merged_settings(settings_of(row), data)
    _check_targets(session, workspace_id=row.workspace_id, campaign_id=row.campaign_id, rules=rules)
    return activities.do_update_activity(
        session,
        actor=actor,
        activity_id=activity_id,
        kind=ActivityKind.REFERRAL,
        title=data.title,
        description=data.description,
        settings=rules.model_dump(mode="json"),
        now=now,
    )


def do_get_link(
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
) -> None:
    """Join the campaign (with consent, the first time) and get one's own invite link for it:
    the referral page's one action."""
    public, _row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.REFERRAL
    )
    activities.require_open(public)
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
    sharing.do_get_link(
        session,
        workspace_id=public.workspace_id,
        campaign_id=public.campaign.id,
        participant_id=acting.participant.id,
        now=now,
    )


# --- following the event log -------------------------------------------------------------------


@dataclass
class _Run:
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


def _lock_cursor(session: Session, *, now: datetime) -> ReferralCursor:
    """The cursor row, locked for this transaction: a second run waits here (PostgreSQL; on
    SQLite the write transaction already serialises runs) and then starts after the first."""
    query = select(ReferralCursor).where(ReferralCursor.name == CURSOR).with_for_update()
    row = session.scalar(query)
    if row is None:
        try:
            with session.begin_nested():
                session.add(ReferralCursor(name=CURSOR, last_event_id=0, updated_at=now))
                session.flush()
        except IntegrityError:
            pass  # another run created it first
        row = session.scalar(query.execution_options(populate_existing=True))
        assert row is not None
    return row


def process_events(session: Session, *, now: datetime, settle: timedelta) -> int:
    """Handle up to BATCH events after the cursor (all workspaces); returns how many were read.
    Events younger than `settle` are left for a later run."""
    cursor = _lock_cursor(session, now=now)
    events = list_events(
        session, after_id=cursor.last_event_id, kinds=list(FOLLOWED_KINDS), limit=BATCH
    )
    run = _Run(session=session, now=now)
    settled = list(takewhile(lambda ev: ev.occurred_at <= now - settle, events))

    def failed(ev: EventRecord, exc: Exception) -> None:
        run.forget()  # what the failed event looked up may have been rolled back with it
        isolation.dead_letter(
            session,
            job=FOLLOWER,
            event_id=ev.id,
            workspace_id=ev.workspace_id,
            kind=ev.kind,
            exc=exc,
            now=now,
        )

    # One event that cannot be handled (legacy data, a bug) is dead-lettered and passed over,
    # never retried at every tick ahead of everyone else's events (docs/architecture.md, Jobs).
    isolation.each_in_savepoint(
        session,
        settled,
        lambda ev: _handle(run, ev),
        job=FOLLOWER,
        key=lambda ev: f"event {ev.id} (workspace {ev.workspace_id})",
        failed=failed,
    )
    if settled:
        cursor.last_event_id = settled[-1].id
        cursor.updated_at = now
    return len(settled)


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


def _record_click(run: _Run, ev: EventRecord) -> None:
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


def _handle(run: _Run, ev: EventRecord) -> None:
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
            _qualify(run, activity=activity, rules=rules, invite=invite, ev=ev)


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


def _record_invites(run: _Run, ev: EventRecord, *, invitee_id: int) -> None:
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


def _evidence(run: _Run, *, rules: ReferralSettings, invite: ReferralInvite) -> dict[str, Any]:
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


def _on_review(run: _Run, ev: EventRecord) -> None:
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
    if _changed(moved) != 1 or not approved:
        return
    activity = run.session.get(Activity, invite.activity_id)
    if activity is not None:
        _milestones(
            run, activity=activity, rules=settings_of(activity), inviter_id=invite.inviter_id
        )


def _ring(run: _Run, *, invite: ReferralInvite, known: dict[int, Signals]) -> list[int] | None:
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
    run: _Run,
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


def _qualify(
    run: _Run,
    *,
    activity: Activity,
    rules: ReferralSettings,
    invite: ReferralInvite,
    ev: EventRecord,
) -> None:
    session = run.session
    evidence = _evidence(run, rules=rules, invite=invite)
    held = bool(evidence)
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
    if _changed(moved) != 1:
        return  # qualified by a concurrent or earlier run
    base = f"referral:{activity.id}:{invite.invitee_id}"
    # When held, the brand's decision on one reward settles the invite: the inviter's, else
    # the friend's, else the level-2 one (see _on_review).
    level2 = rules.levels >= 2 and invite.level2_id is not None
    decider = next(
        (
            role
            for role, reward in (
                ("inviter", rules.inviter_reward),
                ("invitee", rules.invitee_reward),
                ("level2", rules.level2_reward if level2 else None),
            )
            if reward is not None
        ),
        None,
    )

    def shown(role: str) -> dict[str, Any]:
        return {**evidence, "decides_invite": role == decider} if evidence else {}

    grants: dict[str, str | None] = {
        "inviter": _grant(
            run,
            invite=invite,
            participant_id=invite.inviter_id,
            reward=rules.inviter_reward,
            key=f"{base}:inviter",
            reason=_ledger_text(
                N_("{title}: invited #{invitee}"),
                title=activity.title,
                invitee=invite.invitee_id,
            ),
            hold=held,
            evidence=shown("inviter"),
        ),
        "invitee": _grant(
            run,
            invite=invite,
            participant_id=invite.invitee_id,
            reward=rules.invitee_reward,
            key=f"{base}:invitee",
            reason=_ledger_text(
                N_("{title}: joined through #{inviter}'s invitation"),
                title=activity.title,
                inviter=invite.inviter_id,
            ),
            hold=held,
            evidence=shown("invitee"),
        ),
    }
    if level2 and invite.level2_id is not None:
        grants["level2"] = _grant(
            run,
            invite=invite,
            participant_id=invite.level2_id,
            reward=rules.level2_reward,
            key=f"{base}:level2",
            reason=_ledger_text(
                N_("{title}: #{inviter} (whom you invited) invited #{invitee}"),
                title=activity.title,
                inviter=invite.inviter_id,
                invitee=invite.invitee_id,
            ),
            hold=held,
            evidence=shown("level2"),
        )
    session.execute(
        update(ReferralInvite)
        .where(ReferralInvite.id == invite.id)
        .values(evidence={**evidence, "grants": {k: v for k, v in grants.items() if v}})
        .execution_options(synchronize_session=False)
    )
    record_event(
        session,
        kind=EventKind.REFERRAL_QUALIFIED,
        occurred_at=run.now,
        workspace_id=activity.workspace_id,
        campaign_id=activity.campaign_id,
        activity_id=activity.id,
        actor_type=ActorType.PARTICIPANT,
        actor_id=invite.invitee_id,
        referrer=invite.share_code,
        properties={
            "inviter": invite.inviter_id,
            "level2": invite.level2_id if rules.levels >= 2 else None,
            "by": ev.kind,
            "held": held,
            "reasons": evidence.get("reasons", []),
        },
    )
    _milestones(run, activity=activity, rules=rules, inviter_id=invite.inviter_id)


def _milestones(run: _Run, *, activity: Activity, rules: ReferralSettings, inviter_id: int) -> None:
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
        record_event(
            session,
            kind=EventKind.REFERRAL_MILESTONE,
            occurred_at=run.now,
            workspace_id=activity.workspace_id,
            campaign_id=activity.campaign_id,
            activity_id=activity.id,
            actor_type=ActorType.PARTICIPANT,
            actor_id=inviter_id,
            properties={"friends": milestone.friends, "held": held, "grant": status},
        )


def _grant_milestone(
    run: _Run,
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
