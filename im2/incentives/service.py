"""Points, reward grants, coupons, prizes and the points store.

Callers own the transaction; nothing here commits. What must hold under concurrency is held by
the database: unique keys make every grant and ledger entry idempotent, `uses <= max_uses` and
`stock >= 0` are CHECK constraints behind conditional UPDATEs, and a participant's spends are
serialized by locking their wallet row (PostgreSQL `FOR UPDATE`; SQLite write transactions are
serialized by `Database.transaction()` already).

A prize's stock is shared with the lucky draws that give it (docs/draws-and-prizes.md): the draw
format takes units through `claim_prize_for_draw` (instant wins, from the same free stock as the
store) and `reserve_prize_stock` / `release_prize_reserve` (scheduled draws, whose units are set
aside when the draw is created so its published promise can always be paid).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2 import isolation
from im2.campaigns import service as campaigns
from im2.errors import Conflict, InvalidInput, NotFound
from im2.events.schemas import ActorType, EventKind, EventRecord
from im2.events.service import list_events, record_event
from im2.experiments import service as experiments
from im2.i18n import _
from im2.incentives._common import campaign_is_theirs, check_own_campaign, check_participant
from im2.incentives.coupons import (
    CodeTypo,
    do_create_pool,
    do_generate_codes,
    do_import_codes,
    find_coupon,
    format_code,
    generate_code,
    get_pool,
    is_typo,
    issue_code,
    list_codes,
    list_pools,
    looks_generated,
    normalise_code,
    own_pool,
    participant_coupons,
    typo_error,
)
from im2.incentives.grants import (
    OutOfStock,
    check_reward_spec,
    do_issue_coupon,
    give_grant,
    grant_code,
    grant_coupon_code,
    grant_once,
    grant_reward,
)
from im2.incentives.ledger import (
    NotEnoughPoints,
    award_points,
    expire_points,
    expiry_watermark,
    get_balance,
    list_ledger,
    participants_with_expired_credit,
    set_expiry_watermark,
    spend_points,
)
from im2.incentives.levels import use_reward_levels
from im2.incentives.models import (
    CouponCode,
    CouponPool,
    Cursor,
    PointEntry,
    PointRule,
    Prize,
    Redemption,
    RewardGrant,
)
from im2.incentives.prizes import (
    check_prize_for_draw,
    claim_prize_for_draw,
    claim_prize_for_grant,
    do_create_prize,
    do_restock_prize,
    get_prize,
    list_prizes,
    participant_prizes,
    prize_stocks,
    release_prize_reserve,
    reserve_prize_stock,
)
from im2.incentives.redemptions import CouponExpired, CouponUsedUp, do_redeem, redemption_ref
from im2.incentives.schemas import (
    RULE_EVENT_KINDS,
    GrantRef,
    GrantResult,
    PoolRef,
    PrizeRef,
    RedemptionRef,
    RewardKind,
    RewardSpec,
    RuleRef,
)
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

__all__ = [
    "CodeTypo",
    "CouponExpired",
    "CouponUsedUp",
    "NotEnoughPoints",
    "OutOfStock",
    "award_points",
    "campaign_is_theirs",
    "check_own_campaign",
    "check_participant",
    "check_prize_for_draw",
    "check_reward_spec",
    "claim_prize_for_draw",
    "claim_prize_for_grant",
    "do_create_pool",
    "do_create_prize",
    "do_generate_codes",
    "do_import_codes",
    "do_issue_coupon",
    "do_redeem",
    "do_restock_prize",
    "expire_points",
    "expiry_watermark",
    "find_coupon",
    "format_code",
    "generate_code",
    "get_balance",
    "get_pool",
    "get_prize",
    "give_grant",
    "grant_code",
    "grant_coupon_code",
    "grant_once",
    "grant_reward",
    "is_typo",
    "issue_code",
    "list_codes",
    "list_ledger",
    "list_pools",
    "list_prizes",
    "looks_generated",
    "normalise_code",
    "own_pool",
    "participant_coupons",
    "participant_prizes",
    "participants_with_expired_credit",
    "prize_stocks",
    "redemption_ref",
    "release_prize_reserve",
    "reserve_prize_stock",
    "set_expiry_watermark",
    "spend_points",
    "typo_error",
    "use_reward_levels",
]


# Experiments' reward levels, for grants and rules (`levels.py`). To move to the app assembly,
# which may import experiments; incentives itself does not.
use_reward_levels(experiments.RewardLevels)


# --- the points store --------------------------------------------------------------------------


def store_items(
    session: Session, *, workspace_id: int, campaign_id: int
) -> tuple[list[PoolRef], list[PrizeRef]]:
    """What can be bought with points in this campaign."""
    pools = [
        p
        for p in list_pools(session, workspace_id=workspace_id, campaign_id=campaign_id)
        if p.cost_points is not None
    ]
    prizes = [
        p
        for p in list_prizes(session, workspace_id=workspace_id, campaign_id=campaign_id)
        if p.cost_points is not None
    ]
    return pools, prizes


def do_buy(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    participant_id: int,
    item: str,
    item_id: int,
    key: str,
    now: datetime,
) -> GrantResult:
    """Spend points on a coupon (`item="coupon"`) or a prize (`item="prize"`), once per key.
    Not enough points → NotEnoughPoints (409); nothing left → OutOfStock (409); in both cases
    the caller's transaction rolls back and no points are spent."""
    if item == "coupon":
        pool = session.get(CouponPool, item_id)
        if pool is None or pool.campaign_id != campaign_id or pool.cost_points is None:
            raise NotFound(_("This item is not in the store."), field="item")
        price, name = pool.cost_points, pool.name
        reward = RewardSpec(kind=RewardKind.COUPON, pool_id=pool.id)
    elif item == "prize":
        prize = session.get(Prize, item_id)
        if prize is None or prize.campaign_id != campaign_id or prize.cost_points is None:
            raise NotFound(_("This item is not in the store."), field="item")
        price, name = prize.cost_points, prize.name
        reward = RewardSpec(kind=RewardKind.PRIZE, prize_id=prize.id)
    else:
        raise InvalidInput(_("Choose a coupon or a prize."), field="item")
    grant_key = f"store:{key}"
    earlier = session.scalar(
        select(RewardGrant).where(
            RewardGrant.workspace_id == workspace_id, RewardGrant.key == grant_key
        )
    )
    if earlier is not None:
        return GrantResult("duplicate", earlier.id, grant_code(session, earlier))
    spent = spend_points(
        session,
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        participant_id=participant_id,
        points=price,
        key=f"spend:{grant_key}",
        reason=name,
        now=now,
    )
    if not spent:  # the same purchase committed by a concurrent request
        again = session.scalar(
            select(RewardGrant).where(
                RewardGrant.workspace_id == workspace_id, RewardGrant.key == grant_key
            )
        )
        return GrantResult("duplicate", again.id if again else None, None)
    result = grant_once(
        session,
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        participant_id=participant_id,
        reward=reward,
        key=grant_key,
        reason=name,
        now=now,
        evidence={"store": True, "points": price},
        hold=False,
        screen=False,
    )
    if result.status == "out_of_stock":
        raise OutOfStock(_("Sorry, {name} is out of stock.").format(name=name), field="item")
    return result


# --- review: held grants and flagged redemptions ----------------------------------------------


def _grant_ref(session: Session, row: RewardGrant) -> GrantRef:
    return GrantRef(
        id=row.id,
        campaign_id=row.campaign_id,
        participant_id=row.participant_id,
        key=row.key,
        kind=row.kind,
        points=row.points,
        pool_id=row.pool_id,
        prize_id=row.prize_id,
        reason=row.reason,
        status=row.status,
        evidence=dict(row.evidence or {}),
        created_at=row.created_at,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        coupon_code=grant_code(session, row),
    )


def list_grants(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int,
    status: str | None = None,
    limit: int = 200,
) -> list[GrantRef]:
    require(actor, Permission.READ_CAMPAIGNS)
    query = select(RewardGrant).where(
        RewardGrant.workspace_id == actor.workspace_id, RewardGrant.campaign_id == campaign_id
    )
    if status is not None:
        query = query.where(RewardGrant.status == status)
    rows = session.scalars(query.order_by(RewardGrant.id.desc()).limit(limit))
    return [_grant_ref(session, r) for r in rows]


def list_flagged_redemptions(
    session: Session, *, actor: Actor, campaign_id: int, limit: int = 200
) -> list[RedemptionRef]:
    require(actor, Permission.READ_CAMPAIGNS)
    rows = session.execute(
        select(Redemption, CouponCode)
        .join(CouponCode, CouponCode.id == Redemption.code_id)
        .where(
            Redemption.workspace_id == actor.workspace_id,
            CouponCode.campaign_id == campaign_id,
            Redemption.review == "flagged",
        )
        .order_by(Redemption.id.desc())
        .limit(limit)
    ).all()
    return [redemption_ref(r, c) for r, c in rows]


def do_decide_grant(
    session: Session, *, actor: Actor, grant_id: int, approve: bool, now: datetime
) -> GrantRef:
    """Approve (the reward is given now) or void a held grant; both are recorded."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    grant = session.get(RewardGrant, grant_id)
    if grant is None or grant.workspace_id != actor.workspace_id:
        raise NotFound(_("There is no such reward."))
    decided = session.execute(
        update(RewardGrant)
        .where(RewardGrant.id == grant.id, RewardGrant.status == "held")
        .values(status="granted" if approve else "voided", decided_at=now, decided_by=actor.label)
        .execution_options(synchronize_session=False)
    )
    if decided.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(_("This reward has been decided already."))
    session.refresh(grant)
    if approve:
        if give_grant(session, grant, now=now) is False:
            raise OutOfStock(
                _("Nothing left to give: top up the pool or the prize stock, then approve again.")
            )
    elif grant.kind == RewardKind.POINTS:
        session.add(
            PointEntry(
                workspace_id=grant.workspace_id,
                campaign_id=grant.campaign_id,
                participant_id=grant.participant_id,
                kind="void",
                delta=0,
                reason=grant.reason,
                key=f"void:{grant.id}",
                created_at=now,
                grant_id=grant.id,
            )
        )
    session.flush()
    record_event(
        session,
        kind=EventKind.REWARD_APPROVED if approve else EventKind.REWARD_VOIDED,
        occurred_at=now,
        workspace_id=grant.workspace_id,
        campaign_id=grant.campaign_id,
        actor_type=actor.type,
        actor_id=actor.id,
        properties={
            "grant": grant.id,
            "participant": grant.participant_id,
            "kind": grant.kind,
            "points": grant.points,
            "reason": grant.reason,
            "evidence": grant.evidence,
        },
    )
    record_audit(
        session,
        actor=actor,
        workspace_id=actor.workspace_id,
        action="reward.approved" if approve else "reward.voided",
        target_type="reward_grant",
        target_id=grant.id,
        summary=f"reward #{grant.id} for participant #{grant.participant_id} "
        + ("approved" if approve else "voided"),
        before={"status": "held"},
        after={"status": grant.status},
        now=now,
    )
    return _grant_ref(session, grant)


def do_decide_redemption(
    session: Session, *, actor: Actor, redemption_id: int, approve: bool, now: datetime
) -> RedemptionRef:
    """Accept a flagged redemption, or void it: the code is then voided too (no further uses)."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    row = session.get(Redemption, redemption_id)
    if row is None or row.workspace_id != actor.workspace_id:
        raise NotFound(_("There is no such redemption."))
    decided = session.execute(
        update(Redemption)
        .where(Redemption.id == row.id, Redemption.review == "flagged")
        .values(review="approved" if approve else "voided", decided_at=now, decided_by=actor.label)
        .execution_options(synchronize_session=False)
    )
    if decided.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(_("This redemption has been decided already."))
    session.refresh(row)
    code = session.get(CouponCode, row.code_id)
    assert code is not None
    if not approve and code.voided_at is None:
        code.voided_at = now
    session.flush()
    record_event(
        session,
        kind=EventKind.REWARD_APPROVED if approve else EventKind.REWARD_VOIDED,
        occurred_at=now,
        workspace_id=actor.workspace_id,
        campaign_id=code.campaign_id,
        actor_type=actor.type,
        actor_id=actor.id,
        properties={"redemption": row.id, "code": code.code, "evidence": row.evidence},
    )
    record_audit(
        session,
        actor=actor,
        workspace_id=actor.workspace_id,
        action="redemption.approved" if approve else "redemption.voided",
        target_type="coupon_redemption",
        target_id=row.id,
        summary=f"redemption of {code.code} " + ("approved" if approve else "voided, code voided"),
        before={"review": "flagged"},
        after={"review": row.review},
        now=now,
    )
    return redemption_ref(row, code)


# --- what a participant sees -------------------------------------------------------------------


def participant_pending(
    session: Session, *, workspace_id: int, campaign_id: int, participant_id: int
) -> list[GrantRef]:
    """Rewards of this participant waiting for the brand's review."""
    rows = session.scalars(
        select(RewardGrant).where(
            RewardGrant.workspace_id == workspace_id,
            RewardGrant.campaign_id == campaign_id,
            RewardGrant.participant_id == participant_id,
            RewardGrant.status == "held",
        )
    )
    return [_grant_ref(session, r) for r in rows]


# --- rules: points for events ------------------------------------------------------------------

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
        actor=actor,
        workspace_id=actor.workspace_id,
        action="point_rule.saved",
        target_type="point_rule",
        target_id=row.id,
        summary=f"{event_kind} → {points} points",
        before=before,
        after=asdict(_rule_ref(row)),
        now=now,
    )
    return _rule_ref(row)


def do_delete_rule(session: Session, *, actor: Actor, rule_id: int, now: datetime) -> None:
    require(actor, Permission.WRITE_CAMPAIGNS)
    row = session.get(PointRule, rule_id)
    if row is None or row.workspace_id != actor.workspace_id:
        raise NotFound(_("There is no such rule."))
    before = asdict(_rule_ref(row))
    session.delete(row)
    record_audit(
        session,
        actor=actor,
        workspace_id=actor.workspace_id,
        action="point_rule.deleted",
        target_type="point_rule",
        target_id=rule_id,
        summary=f"{before['event_kind']} rule deleted",
        before=before,
        after=None,
        now=now,
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
    cursor = session.get(Cursor, RULES_CURSOR, with_for_update=True)
    if cursor is None:
        try:
            with session.begin_nested():
                session.add(Cursor(name=RULES_CURSOR, last_event_id=0, updated_at=now))
        except IntegrityError:
            pass
        cursor = session.get(Cursor, RULES_CURSOR, with_for_update=True)
        assert cursor is not None
    rules: dict[tuple[int, str], PointRule] = {
        (r.campaign_id, r.event_kind): r
        for r in session.scalars(select(PointRule).where(PointRule.active.is_(True)))
    }
    events = list_events(
        session,
        after_id=cursor.last_event_id,
        until=now - settle if settle else None,
        limit=batch,
    )
    counts = {"awarded": 0, "capped": 0}
    # Caches of reads only: a failed event's rolled-back writes leave them true.
    zones: dict[int, str] = {}
    levels = experiments.RewardLevels(session)

    def handle(event: EventRecord) -> None:
        rule = rules.get((event.campaign_id or 0, event.kind))
        if rule is None or event.occurred_at < rule.created_at:
            return
        who = _beneficiary(event)
        if who is None:
            return
        key = f"rule:{rule.id}:event:{event.id}"
        if session.scalar(
            select(PointEntry.id).where(
                PointEntry.workspace_id == rule.workspace_id, PointEntry.key == key
            )
        ):
            return
        if rule.campaign_id not in zones:
            found = campaigns.get_public_campaign_by_id(session, campaign_id=rule.campaign_id)
            zones[rule.campaign_id] = found.campaign.timezone if found else "Asia/Shanghai"
        mine = select(func.count()).where(
            PointEntry.rule_id == rule.id,
            PointEntry.participant_id == who,
            PointEntry.kind == "award",
        )
        if rule.total_cap is not None and int(session.scalar(mine) or 0) >= rule.total_cap:
            counts["capped"] += 1
            return
        if rule.daily_cap is not None:
            start, end = _local_day(event.occurred_at, zones[rule.campaign_id])
            today = mine.where(PointEntry.created_at >= start, PointEntry.created_at < end)
            if int(session.scalar(today) or 0) >= rule.daily_cap:
                counts["capped"] += 1
                return
        try:
            check_participant(session, workspace_id=rule.workspace_id, participant_id=who)
        except NotFound:
            return
        # The variant's level at the moment of the event, so a run after the experiment ended
        # still pays what the participant was promised.
        level = levels.of(activity_id=event.activity_id, participant_id=who, at=event.occurred_at)
        points = rule.points if level is None else level.scale(rule.points)
        if points <= 0:
            return
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
            counts["awarded"] += 1

    def failed(event: EventRecord, exc: Exception) -> None:
        isolation.dead_letter(
            session,
            job=RULES_FOLLOWER,
            event_id=event.id,
            workspace_id=event.workspace_id,
            kind=event.kind,
            exc=exc,
            now=now,
        )

    # One event that cannot be handled (legacy data, a bug) is dead-lettered and passed over,
    # never retried at every tick ahead of everyone else's events (docs/architecture.md, Jobs).
    isolation.each_in_savepoint(
        session,
        events,
        handle,
        job=RULES_FOLLOWER,
        key=lambda e: f"event {e.id} (workspace {e.workspace_id})",
        failed=failed,
    )
    awarded, capped = counts["awarded"], counts["capped"]
    if events:
        cursor.last_event_id = events[-1].id
        cursor.updated_at = now
    return RulesRun(
        events_seen=len(events),
        awarded=awarded,
        capped=capped,
        last_event_id=cursor.last_event_id,
    )
