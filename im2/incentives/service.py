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
from typing import Any
from zoneinfo import ZoneInfo

from disposable_email_domains import blocklist
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.campaigns import service as campaigns
from im2.errors import Conflict, IM2Error, InvalidInput, NotFound
from im2.events.schemas import ActorType, EventKind, EventRecord
from im2.events.service import list_events, record_event
from im2.experiments import service as experiments
from im2.experiments.schemas import RewardLevel
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
from im2.participation import service as participation
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

__all__ = [
    "CodeTypo",
    "CouponExpired",
    "CouponUsedUp",
    "NotEnoughPoints",
    "award_points",
    "campaign_is_theirs",
    "check_own_campaign",
    "check_participant",
    "check_prize_for_draw",
    "claim_prize_for_draw",
    "claim_prize_for_grant",
    "do_create_pool",
    "do_create_prize",
    "do_generate_codes",
    "do_import_codes",
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
]


class OutOfStock(IM2Error):
    status_code = 409
    code = "out_of_stock"


# --- grants ------------------------------------------------------------------------------------


def _disposable_domain(session: Session, participant_id: int) -> str | None:
    profile = participation.get_profile(session, participant_id=participant_id)
    if not profile.verified_email or "@" not in profile.verified_email:
        return None
    domain = profile.verified_email.rsplit("@", 1)[1].lower()
    return domain if domain in blocklist else None


def _check_target(session: Session, *, workspace_id: int, reward: RewardSpec) -> None:
    if reward.kind is RewardKind.COUPON:
        pool = session.get(CouponPool, reward.pool_id)
        if pool is None or pool.workspace_id != workspace_id:
            raise NotFound(_("There is no such coupon pool."), field="pool_id")
    if reward.kind is RewardKind.PRIZE:
        prize = session.get(Prize, reward.prize_id)
        if prize is None or prize.workspace_id != workspace_id:
            raise NotFound(_("There is no such prize."), field="prize_id")


def _give(
    session: Session, grant: RewardGrant, *, now: datetime, level: RewardLevel | None = None
) -> CouponCode | bool:
    """Hand over what the grant promises. False when a coupon pool or a prize ran out."""
    if grant.kind == RewardKind.POINTS:
        assert grant.points is not None
        award_points(
            session,
            workspace_id=grant.workspace_id,
            campaign_id=grant.campaign_id,
            participant_id=grant.participant_id,
            points=grant.points,
            key=f"grant:{grant.id}",
            reason=grant.reason,
            now=now,
            grant_id=grant.id,
            level=level,
        )
        return True
    if grant.kind == RewardKind.COUPON:
        pool = session.get(CouponPool, grant.pool_id)
        if pool is None:
            return False
        code = issue_code(session, pool=pool, participant_id=grant.participant_id, now=now)
        if code is None:
            return False
        grant.coupon_id = code.id
        record_event(
            session,
            kind=EventKind.COUPON_ISSUED,
            occurred_at=now,
            workspace_id=grant.workspace_id,
            campaign_id=grant.campaign_id,
            actor_type=ActorType.SYSTEM,
            actor_id=None,
            properties={
                "participant": grant.participant_id,
                "pool": pool.id,
                "code": code.code,
                "reason": grant.reason,
                "grant": grant.id,
            },
        )
        return code
    prize = session.get(Prize, grant.prize_id)
    if prize is None:
        return False
    claim = claim_prize_for_grant(
        session, prize=prize, participant_id=grant.participant_id, grant_id=grant.id, now=now
    )
    if claim is None:
        return False
    record_event(
        session,
        kind=EventKind.PRIZE_CLAIMED,
        occurred_at=now,
        workspace_id=grant.workspace_id,
        campaign_id=grant.campaign_id,
        actor_type=ActorType.SYSTEM,
        actor_id=None,
        properties={
            "participant": grant.participant_id,
            "prize": prize.id,
            "name": prize.name,
            "stock_left": prize.stock,
            "reason": grant.reason,
            "grant": grant.id,
        },
    )
    return True


def grant_reward(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    participant_id: int,
    reward: RewardSpec,
    key: str,
    reason: str,
    now: datetime,
    evidence: dict[str, Any] | None = None,
    hold: bool = False,
    activity_id: int | None = None,
) -> GrantResult:
    """Give a reward once per (workspace, key).

    - a second call with the same key returns `duplicate` and writes nothing;
    - with `activity_id`, points are scaled by the reward level of the participant's variant in
      the experiment running on that activity (`experiments.RewardLevels`); a level that leaves
      no whole point gives `withheld` and writes nothing. Coupons and prizes are not scaled;
    - `hold=True` (or a participant whose verified e-mail is at a disposable domain) keeps the
      grant for review in the console, with `evidence` shown; approving gives the reward;
    - a coupon pool or prize with nothing left gives `out_of_stock` and writes nothing, so the
      same key can be granted again once the stock is topped up.
    """
    return _grant(
        session,
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        participant_id=participant_id,
        reward=reward,
        key=key,
        reason=reason,
        now=now,
        evidence=evidence,
        hold=hold,
        screen=True,
        activity_id=activity_id,
    )


def _grant(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    participant_id: int,
    reward: RewardSpec,
    key: str,
    reason: str,
    now: datetime,
    evidence: dict[str, Any] | None,
    hold: bool,
    screen: bool,
    activity_id: int | None = None,
) -> GrantResult:
    if not key or len(key) > 200:
        raise InvalidInput(_("A reward key must be 1–200 characters."), field="key")
    _check_target(session, workspace_id=workspace_id, reward=reward)
    existing = session.scalar(
        select(RewardGrant.id).where(
            RewardGrant.workspace_id == workspace_id, RewardGrant.key == key
        )
    )
    if existing is not None:
        return GrantResult(status="duplicate", grant_id=existing, coupon_code=None)
    level = None
    if reward.kind is RewardKind.POINTS and activity_id is not None:
        level = experiments.RewardLevels(session).of(
            activity_id=activity_id, participant_id=participant_id, at=now
        )
    if level is not None:
        assert reward.points is not None
        points = level.scale(reward.points)
        if points <= 0:
            return GrantResult(status="withheld", grant_id=None, coupon_code=None)
        reward = RewardSpec(kind=RewardKind.POINTS, points=points)
    shown = dict(evidence or {})
    disposable = _disposable_domain(session, participant_id) if screen else None
    if disposable is not None:
        shown["disposable_email_domain"] = disposable
        hold = True
    grant = RewardGrant(
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        participant_id=participant_id,
        key=key,
        kind=reward.kind.value,
        points=reward.points,
        pool_id=reward.pool_id,
        prize_id=reward.prize_id,
        reason=reason[:200],
        status="held" if hold else "granted",
        evidence=shown,
        created_at=now,
    )
    savepoint = session.begin_nested()
    try:
        session.add(grant)
        session.flush()
    except IntegrityError:
        savepoint.rollback()
        again = session.scalar(
            select(RewardGrant.id).where(
                RewardGrant.workspace_id == workspace_id, RewardGrant.key == key
            )
        )
        return GrantResult(status="duplicate", grant_id=again, coupon_code=None)
    if hold:
        savepoint.commit()
        record_event(
            session,
            kind=EventKind.REWARD_HELD,
            occurred_at=now,
            workspace_id=workspace_id,
            campaign_id=campaign_id,
            actor_type=ActorType.SYSTEM,
            actor_id=None,
            properties={
                "participant": participant_id,
                "grant": grant.id,
                "reward": reward.model_dump(exclude_none=True, mode="json"),
                "reason": reason[:200],
                "evidence": shown,
            },
        )
        return GrantResult(status="held", grant_id=grant.id, coupon_code=None)
    given = _give(session, grant, now=now, level=level)
    if given is False:
        savepoint.rollback()
        return GrantResult(status="out_of_stock", grant_id=None, coupon_code=None)
    savepoint.commit()
    return GrantResult(
        status="granted",
        grant_id=grant.id,
        coupon_code=given.code if isinstance(given, CouponCode) else None,
    )


def check_reward_spec(data: dict[str, Any]) -> RewardSpec:
    """A RewardSpec from form or JSON data, or InvalidInput naming what is wrong."""
    try:
        return RewardSpec.model_validate(data)
    except ValueError as exc:
        raise InvalidInput(_("This reward is not complete: {detail}").format(detail=exc)) from exc


# --- the brand's side: handing out coupons ----------------------------------------------------


def do_issue_coupon(
    session: Session,
    *,
    actor: Actor,
    pool_id: int,
    participant_id: int,
    key: str,
    reason: str,
    now: datetime,
) -> GrantResult:
    """A brand (API or console) hands a coupon to a participant, idempotent by key."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    pool = own_pool(session, actor=actor, pool_id=pool_id)
    check_participant(session, workspace_id=actor.workspace_id, participant_id=participant_id)
    result = grant_reward(
        session,
        workspace_id=actor.workspace_id,
        campaign_id=pool.campaign_id,
        participant_id=participant_id,
        reward=RewardSpec(kind=RewardKind.COUPON, pool_id=pool.id),
        key=f"issue:{key}",
        reason=reason,
        now=now,
    )
    if result.status == "out_of_stock":
        raise OutOfStock(_("This pool has no free codes left."), field="pool_id")
    if result.status == "granted":
        record_audit(
            session,
            actor=actor,
            workspace_id=actor.workspace_id,
            action="coupon.issued",
            target_type="coupon_pool",
            target_id=pool.id,
            summary=f"coupon of {pool.name} issued to participant #{participant_id}",
            before=None,
            after={"participant": participant_id, "key": key},
            now=now,
        )
    return result


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
        return GrantResult("duplicate", earlier.id, _grant_code(session, earlier))
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
    result = _grant(
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


def _grant_code(session: Session, grant: RewardGrant) -> str | None:
    if grant.coupon_id is None:
        return None
    code = session.get(CouponCode, grant.coupon_id)
    return None if code is None else code.code


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
        coupon_code=_grant_code(session, row),
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
        if _give(session, grant, now=now) is False:
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
            if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
                return int(value)
        return None
    if event.actor_type == ActorType.PARTICIPANT.value and event.actor_id:
        return int(event.actor_id) if event.actor_id.isdigit() else None
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
    awarded = capped = 0
    zones: dict[int, str] = {}
    levels = experiments.RewardLevels(session)
    for event in events:
        rule = rules.get((event.campaign_id or 0, event.kind))
        if rule is None or event.occurred_at < rule.created_at:
            continue
        who = _beneficiary(event)
        if who is None:
            continue
        key = f"rule:{rule.id}:event:{event.id}"
        if session.scalar(
            select(PointEntry.id).where(
                PointEntry.workspace_id == rule.workspace_id, PointEntry.key == key
            )
        ):
            continue
        if rule.campaign_id not in zones:
            found = campaigns.get_public_campaign_by_id(session, campaign_id=rule.campaign_id)
            zones[rule.campaign_id] = found.campaign.timezone if found else "Asia/Shanghai"
        mine = select(func.count()).where(
            PointEntry.rule_id == rule.id,
            PointEntry.participant_id == who,
            PointEntry.kind == "award",
        )
        if rule.total_cap is not None and int(session.scalar(mine) or 0) >= rule.total_cap:
            capped += 1
            continue
        if rule.daily_cap is not None:
            start, end = _local_day(event.occurred_at, zones[rule.campaign_id])
            today = mine.where(PointEntry.created_at >= start, PointEntry.created_at < end)
            if int(session.scalar(today) or 0) >= rule.daily_cap:
                capped += 1
                continue
        try:
            check_participant(session, workspace_id=rule.workspace_id, participant_id=who)
        except NotFound:
            continue
        # The variant's level at the moment of the event, so a run after the experiment ended
        # still pays what the participant was promised.
        level = levels.of(activity_id=event.activity_id, participant_id=who, at=event.occurred_at)
        points = rule.points if level is None else level.scale(rule.points)
        if points <= 0:
            continue
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
            awarded += 1
    if events:
        cursor.last_event_id = events[-1].id
        cursor.updated_at = now
    return RulesRun(
        events_seen=len(events),
        awarded=awarded,
        capped=capped,
        last_event_id=cursor.last_event_id,
    )


def grant_coupon_code(session: Session, *, grant_id: int) -> str | None:
    """The code a grant handed out, if it was a coupon."""
    grant = session.get(RewardGrant, grant_id)
    return None if grant is None else _grant_code(session, grant)
