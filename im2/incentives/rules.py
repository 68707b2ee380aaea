"""Point rules: a campaign's points for kinds of events, and the follower that pays them.

The follower reads the event log after its cursor and awards each (rule, event) once: the
ledger key `rule:<rule>:event:<event>` makes a second run a no-op even if the cursor were lost,
and the cursor row is locked, so two runners take turns. Caps count per participant, in total
and per day in the campaign's time zone. One event that cannot be handled is dead-lettered and
passed over (`im2.isolation`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from im2 import isolation
from im2.campaigns import service as campaigns
from im2.errors import InvalidInput, NotFound
from im2.events.schemas import ActorType, EventKind, EventRecord
from im2.events.service import list_events
from im2.i18n import _
from im2.incentives._common import check_own_campaign, check_participant
from im2.incentives.ledger import award_points, lock_wallet
from im2.incentives.levels import reward_levels
from im2.incentives.models import Cursor, PointEntry, PointRule
from im2.incentives.schemas import RULE_EVENT_KINDS, RuleRef
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import owned_row, record_audit, require

RULES_CURSOR = "point_rules"


RULES_BATCH = 1000


RULES_FOLLOWER = "incentives_point_rules"  # the job's name, in logs and dead letters


def _rule_ref(row: PointRule) -> RuleRef:
    return RuleRef(
        id=row.id,
        campaign_id=row.campaign_id,
        event_kind=row.event_kind,
        points=row.points,
        daily_cap=row.daily_cap,
        total_cap=row.total_cap,
        expires_days=row.expires_days,
        active=row.active,
    )


def list_rules(session: Session, *, actor: Actor, campaign_id: int) -> list[RuleRef]:
    require(actor, Permission.READ_CAMPAIGNS)
    rows = session.scalars(
        select(PointRule)
        .where(PointRule.workspace_id == actor.workspace_id, PointRule.campaign_id == campaign_id)
        .order_by(PointRule.id)
    )
    return [_rule_ref(r) for r in rows]


def do_save_rule(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int,
    event_kind: str,
    points: int,
    daily_cap: int | None = None,
    total_cap: int | None = None,
    expires_days: int | None = None,
    active: bool = True,
    now: datetime,
) -> RuleRef:
    """Create or change the campaign's rule for one event kind."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    check_own_campaign(session, actor=actor, campaign_id=campaign_id)
    if event_kind not in {k.value for k in RULE_EVENT_KINDS}:
        raise InvalidInput(_("Points cannot be given for this kind of event."), field="event_kind")
    if not 1 <= points <= 1_000_000:
        raise InvalidInput(_("Points must be between 1 and 1,000,000."), field="points")
    for name, value in (
        ("daily_cap", daily_cap),
        ("total_cap", total_cap),
        ("expires_days", expires_days),
    ):
        if value is not None and not 1 <= value <= 100_000:
            raise InvalidInput(_("Leave it empty or enter 1–100,000."), field=name)
    if daily_cap is not None and total_cap is not None and daily_cap > total_cap:
        raise InvalidInput(_("The daily cap cannot exceed the total cap."), field="daily_cap")
    row = session.scalar(
        select(PointRule).where(
            PointRule.campaign_id == campaign_id, PointRule.event_kind == event_kind
        )
    )
    before = None if row is None else asdict(_rule_ref(row))
    if row is None:
        row = PointRule(
            workspace_id=actor.workspace_id,
            campaign_id=campaign_id,
            event_kind=event_kind,
            points=points,
            created_at=now,
        )
        session.add(row)
    row.points = points
    row.daily_cap = daily_cap
    row.total_cap = total_cap
    row.expires_days = expires_days
    row.active = active
    session.flush()
    record_audit(
        session,
        actor,
        "point_rule.saved",
        ("point_rule", row.id),
        f"{event_kind} → {points} points",
        now=now,
        before=before,
        after=asdict(_rule_ref(row)),
    )
    return _rule_ref(row)


def do_delete_rule(session: Session, *, actor: Actor, rule_id: int, now: datetime) -> None:
    require(actor, Permission.WRITE_CAMPAIGNS)
    row = owned_row(session, PointRule, rule_id, actor=actor, missing=_("There is no such rule."))
    before = asdict(_rule_ref(row))
    session.delete(row)
    record_audit(
        session,
        actor,
        "point_rule.deleted",
        ("point_rule", rule_id),
        f"{before['event_kind']} rule deleted",
        now=now,
        before=before,
    )


_BENEFICIARY_KEYS = ("inviter", "inviter_id", "referrer_id", "sharer")


def _beneficiary(event: EventRecord) -> int | None:
    """Who earns points for this event: the sharer of a clicked link, the inviter of a qualified
    referral, otherwise the participant who acted."""
    if event.kind in (EventKind.SHARE_CLICKED.value, EventKind.REFERRAL_QUALIFIED.value):
        for name in _BENEFICIARY_KEYS:
            value = event.properties.get(name)
            if isinstance(value, int) or (isinstance(value, str) and value.isdecimal()):
                return int(value)
        return None
    if event.actor_type == ActorType.PARTICIPANT.value and event.actor_id:
        return int(event.actor_id) if event.actor_id.isdecimal() else None
    return None


def _local_day(moment: datetime, timezone: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(timezone)
    local = moment.astimezone(zone)
    start = datetime(local.year, local.month, local.day, tzinfo=zone)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


@dataclass(frozen=True)
class RulesRun:
    events_seen: int
    awarded: int
    capped: int
    last_event_id: int


def apply_rules(
    session: Session, *, now: datetime, settle: timedelta = timedelta(0), batch: int = RULES_BATCH
) -> RulesRun:
    """Award points for the events after the cursor (up to `now - settle`) by the active rules,
    once per (rule, event): a ledger key makes a second run a no-op even if the cursor were
    lost. The cursor row is locked, so two runners take turns."""
    # Locked before the rules are read: a runner that waited for another reads them afresh.
    isolation.lock_cursor(session, Cursor, name=RULES_CURSOR, now=now)
    rules: dict[tuple[int, str], PointRule] = {
        (r.campaign_id, r.event_kind): r
        for r in session.scalars(select(PointRule).where(PointRule.active.is_(True)))
    }
    follower = _RulesFollower(session, rules=rules)
    followed = isolation.follow_events(
        session,
        cursor=Cursor,
        name=RULES_CURSOR,
        job=RULES_FOLLOWER,
        handle=follower.handle,
        now=now,
        batch=batch,
        settle=settle or None,
    )
    return RulesRun(
        events_seen=followed.read,
        awarded=follower.awarded,
        capped=follower.capped,
        last_event_id=followed.last_event_id,
    )


def _due_at(
    session: Session, *, occurred_at: datetime
) -> tuple[list[EventRecord], dict[tuple[int, str], PointRule]]:
    """The participant events written at `occurred_at` that an active rule pays, and the rules."""
    found = [
        event
        for event in list_events(
            session,
            kinds=[kind.value for kind in RULE_EVENT_KINDS],
            since=occurred_at,
            until=occurred_at + timedelta(microseconds=1),
        )
        if event.actor_type == ActorType.PARTICIPANT.value and event.campaign_id is not None
    ]
    if not found:
        return [], {}
    rules: dict[tuple[int, str], PointRule] = {
        (r.campaign_id, r.event_kind): r
        for r in session.scalars(
            select(PointRule).where(
                PointRule.active.is_(True),
                PointRule.campaign_id.in_({event.campaign_id for event in found}),
            )
        )
    }
    return [e for e in found if (e.campaign_id or 0, e.kind) in rules], rules


def points_due_at(session: Session, *, occurred_at: datetime) -> bool:
    """Whether `award_at_once` has anything to pay (a read, to skip a write transaction)."""
    return bool(_due_at(session, occurred_at=occurred_at)[0])


def award_at_once(session: Session, *, occurred_at: datetime) -> int:
    """Pay by the rules, in the caller's transaction, the participant events written at
    `occurred_at` (a public action's time), so the participant sees "+N" and their balance at
    once; the follower later finds the ledger keys and passes them over. Returns the points paid
    to those who acted (a shared link's clicks pay its sharer, who is not told)."""
    found, rules = _due_at(session, occurred_at=occurred_at)
    if not found:
        return 0
    follower = _RulesFollower(session, rules=rules)
    paid = 0
    for event in found:
        points = follower.handle(event)
        if event.actor_id == str(_beneficiary(event)):
            paid += points
    return paid


class _RulesFollower:
    """One batch of events through the rules. Its caches hold reads only, so a failed event's
    rolled-back writes leave them true."""

    def __init__(self, session: Session, *, rules: dict[tuple[int, str], PointRule]) -> None:
        self.session = session
        self.rules = rules
        self.levels = reward_levels(session)
        self.zones: dict[int, str] = {}
        self.awarded = 0
        self.capped = 0

    def handle(self, event: EventRecord) -> int:
        """Pays `event` by its rule; returns the points paid now (0: none, or paid before)."""
        session = self.session
        rule = self.rules.get((event.campaign_id or 0, event.kind))
        if rule is None or event.occurred_at < rule.created_at:
            return 0
        who = _beneficiary(event)
        if who is None:
            return 0
        key = f"rule:{rule.id}:event:{event.id}"
        if session.scalar(
            select(PointEntry.id).where(
                PointEntry.workspace_id == rule.workspace_id, PointEntry.key == key
            )
        ):
            return 0
        try:
            check_participant(session, workspace_id=rule.workspace_id, participant_id=who)
        except NotFound:
            return 0
        if rule.daily_cap is not None or rule.total_cap is not None:
            # Counted and paid under the wallet's lock: the job and a payment at once (or two
            # of those) never both pass a cap that has room for one.
            lock_wallet(
                session, workspace_id=rule.workspace_id, participant_id=who, now=event.occurred_at
            )
        if self._capped(rule, who=who, at=event.occurred_at):
            self.capped += 1
            return 0
        # The variant's level at the moment of the event, so a run after the experiment ended
        # still pays what the participant was promised.
        level = self.levels.of(
            activity_id=event.activity_id, participant_id=who, at=event.occurred_at
        )
        points = rule.points if level is None else level.scale(rule.points)
        if points <= 0:
            return 0
        if award_points(
            session,
            workspace_id=rule.workspace_id,
            campaign_id=rule.campaign_id,
            participant_id=who,
            points=points,
            key=key,
            reason=rule.event_kind,
            now=event.occurred_at,
            expires_at=(
                event.occurred_at + timedelta(days=rule.expires_days) if rule.expires_days else None
            ),
            rule_id=rule.id,
            event_id=event.id,
            level=level,
        ):
            self.awarded += 1
            return points
        return 0

    def _capped(self, rule: PointRule, *, who: int, at: datetime) -> bool:
        """Whether `who` has had the rule's total, or today's (in the campaign's time zone)."""
        if rule.campaign_id not in self.zones:
            found = campaigns.get_public_campaign_by_id(self.session, campaign_id=rule.campaign_id)
            self.zones[rule.campaign_id] = found.campaign.timezone if found else "Asia/Shanghai"
        mine = select(func.count()).where(
            PointEntry.rule_id == rule.id,
            PointEntry.participant_id == who,
            PointEntry.kind == "award",
        )
        if rule.total_cap is not None and int(self.session.scalar(mine) or 0) >= rule.total_cap:
            return True
        if rule.daily_cap is not None:
            start, end = _local_day(at, self.zones[rule.campaign_id])
            today = mine.where(PointEntry.created_at >= start, PointEntry.created_at < end)
            if int(self.session.scalar(today) or 0) >= rule.daily_cap:
                return True
        return False
