"""Reward grants: points, a coupon or a prize given to a participant once per key.

Every grant is idempotent by its key (unique in the workspace). A grant can be held for the
brand's review (asked for, or a participant with a disposable e-mail domain); approving it gives
the reward then (`review.py`). Points granted for an activity follow the reward level of the
participant's experiment variant (`levels.py`). A pool or prize with nothing left gives
`out_of_stock` and writes nothing, so the same key can be granted again after a top-up.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from disposable_email_domains import blocklist
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.errors import IM2Error, InvalidInput, NotFound
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.incentives._common import check_participant
from im2.incentives.coupons import issue_code, own_pool
from im2.incentives.ledger import award_points
from im2.incentives.levels import RewardLevel, reward_levels
from im2.incentives.models import CouponCode, CouponPool, Prize, RewardGrant
from im2.incentives.prizes import claim_prize_for_grant
from im2.incentives.schemas import GrantResult, RewardKind, RewardSpec
from im2.participation import service as participation
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require


class OutOfStock(IM2Error):
    status_code = 409
    code = "out_of_stock"


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


def give_grant(
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
        _record_handed_over(
            session, grant, EventKind.COUPON_ISSUED, {"pool": pool.id, "code": code.code}, now=now
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
    _record_handed_over(
        session,
        grant,
        EventKind.PRIZE_CLAIMED,
        {"prize": prize.id, "name": prize.name, "stock_left": prize.stock},
        now=now,
    )
    return True


def _record_handed_over(
    session: Session,
    grant: RewardGrant,
    kind: EventKind,
    handed: dict[str, Any],
    *,
    now: datetime,
) -> None:
    """The event of a coupon or prize a grant handed over: who got it, what, why, which grant."""
    record_event(
        session,
        kind=kind,
        occurred_at=now,
        workspace_id=grant.workspace_id,
        campaign_id=grant.campaign_id,
        actor_type=ActorType.SYSTEM,
        actor_id=None,
        properties={
            "participant": grant.participant_id,
            **handed,
            "reason": grant.reason,
            "grant": grant.id,
        },
    )


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
      the experiment running on that activity (`levels.reward_levels`); a level that leaves
      no whole point gives `withheld` and writes nothing. Coupons and prizes are not scaled;
    - `hold=True` (or a participant whose verified e-mail is at a disposable domain) keeps the
      grant for review in the console, with `evidence` shown; approving gives the reward;
    - a coupon pool or prize with nothing left gives `out_of_stock` and writes nothing, so the
      same key can be granted again once the stock is topped up.
    """
    return grant_once(
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


def grant_once(
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
    """`grant_reward`; `screen=False` skips the disposable e-mail check (a store purchase, paid
    for with points, is not held)."""
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
        level = reward_levels(session).of(
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
        _record_held(session, grant=grant, reward=reward, now=now)
        return GrantResult(status="held", grant_id=grant.id, coupon_code=None)
    given = give_grant(session, grant, now=now, level=level)
    if given is False:
        savepoint.rollback()
        return GrantResult(status="out_of_stock", grant_id=None, coupon_code=None)
    savepoint.commit()
    return GrantResult(
        status="granted",
        grant_id=grant.id,
        coupon_code=given.code if isinstance(given, CouponCode) else None,
    )


def _record_held(
    session: Session, *, grant: RewardGrant, reward: RewardSpec, now: datetime
) -> None:
    record_event(
        session,
        kind=EventKind.REWARD_HELD,
        occurred_at=now,
        workspace_id=grant.workspace_id,
        campaign_id=grant.campaign_id,
        actor_type=ActorType.SYSTEM,
        actor_id=None,
        properties={
            "participant": grant.participant_id,
            "grant": grant.id,
            "reward": reward.model_dump(exclude_none=True, mode="json"),
            "reason": grant.reason,
            "evidence": grant.evidence,
        },
    )


def check_reward_spec(data: dict[str, Any]) -> RewardSpec:
    """A RewardSpec from form or JSON data, or InvalidInput naming what is wrong."""
    try:
        return RewardSpec.model_validate(data)
    except ValueError as exc:
        raise InvalidInput(_("This reward is not complete: {detail}").format(detail=exc)) from exc


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
            actor,
            "coupon.issued",
            ("coupon_pool", pool.id),
            f"coupon of {pool.name} issued to participant #{participant_id}",
            now=now,
            after={"participant": participant_id, "key": key},
        )
    return result


def grant_code(session: Session, grant: RewardGrant) -> str | None:
    if grant.coupon_id is None:
        return None
    code = session.get(CouponCode, grant.coupon_id)
    return None if code is None else code.code


def grant_coupon_code(session: Session, *, grant_id: int) -> str | None:
    """The code a grant handed out, if it was a coupon."""
    grant = session.get(RewardGrant, grant_id)
    return None if grant is None else grant_code(session, grant)
