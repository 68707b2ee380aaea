"""Review: rewards held for the brand's decision and coupon redemptions flagged as shared.

Approving a held grant gives the reward then; voiding it gives nothing (a points grant leaves a
zero `void` line in the ledger). Voiding a flagged redemption voids its code too. A decision is
taken once: a conditional UPDATE on the status makes a second, concurrent one a 409.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from im2.errors import Conflict
from im2.events.schemas import EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.incentives.grants import OutOfStock, give_grant, grant_code
from im2.incentives.models import CouponCode, PointEntry, Redemption, RewardGrant
from im2.incentives.redemptions import redemption_ref
from im2.incentives.schemas import GrantRef, RedemptionRef, RewardKind
from im2.masking import mask_fields, mask_ip, masked_for
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import owned_row, record_audit, require


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
    refs = [redemption_ref(r, c) for r, c in rows]
    if not masked_for(actor):
        return refs
    # The shop's IP addresses, the redemption's and those of its evidence, are masked for
    # console users without people:read.
    return [
        replace(
            mask_fields(ref, masked=True),
            evidence={
                k: [mask_ip(str(v)) for v in value]
                if k == "ips" and isinstance(value, list)
                else value
                for k, value in ref.evidence.items()
            },
        )
        for ref in refs
    ]


def _record_decision(
    session: Session,
    *,
    actor: Actor,
    approve: bool,
    campaign_id: int,
    properties: dict[str, Any],
    audit: tuple[str, str, int],
    summary: str,
    before: dict[str, Any],
    after: dict[str, Any],
    now: datetime,
) -> None:
    """A reviewer's decision, in the event log (a reward approved or voided) and in the audit
    log as `<audit name>.approved|voided` on the `(name, target type, id)` of `audit`."""
    record_event(
        session,
        kind=EventKind.REWARD_APPROVED if approve else EventKind.REWARD_VOIDED,
        occurred_at=now,
        workspace_id=actor.workspace_id,
        campaign_id=campaign_id,
        actor_type=actor.type,
        actor_id=actor.id,
        properties=properties,
    )
    name, target_type, target_id = audit
    record_audit(
        session,
        actor,
        f"{name}.{'approved' if approve else 'voided'}",
        (target_type, target_id),
        summary,
        now=now,
        before=before,
        after=after,
    )


def do_decide_grant(
    session: Session, *, actor: Actor, grant_id: int, approve: bool, now: datetime
) -> GrantRef:
    """Approve (the reward is given now) or void a held grant; both are recorded."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    grant = owned_row(
        session, RewardGrant, grant_id, actor=actor, missing=_("There is no such reward.")
    )
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
    _record_decision(
        session,
        actor=actor,
        approve=approve,
        campaign_id=grant.campaign_id,
        properties={
            "grant": grant.id,
            "participant": grant.participant_id,
            "kind": grant.kind,
            "points": grant.points,
            "reason": grant.reason,
            "evidence": grant.evidence,
        },
        audit=("reward", "reward_grant", grant.id),
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
    row = owned_row(
        session, Redemption, redemption_id, actor=actor, missing=_("There is no such redemption.")
    )
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
    _record_decision(
        session,
        actor=actor,
        approve=approve,
        campaign_id=code.campaign_id,
        properties={"redemption": row.id, "code": code.code, "evidence": row.evidence},
        audit=("redemption", "coupon_redemption", row.id),
        summary=f"redemption of {code.code} " + ("approved" if approve else "voided, code voided"),
        before={"review": "flagged"},
        after={"review": row.review},
        now=now,
    )
    return redemption_ref(row, code)


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
