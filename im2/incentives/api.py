"""JSON API of incentives: coupon pools and codes, balances and points, redemptions at a shop."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from im2.errors import InvalidInput, NotFound
from im2.i18n import _
from im2.incentives import service
from im2.incentives.schemas import (
    BalanceRead,
    CodesAdded,
    CodesGenerate,
    CodesImport,
    CouponIssue,
    CouponRead,
    GrantRead,
    GrantResult,
    LedgerEntryRead,
    PointsAward,
    PoolCreate,
    PoolRead,
    PoolRef,
    PrizeCreate,
    PrizeRead,
    PurchaseCreate,
    RedemptionCreate,
    RedemptionRead,
    RedemptionRef,
    RewardKind,
    RewardSpec,
)
from im2.web.db_calls import read, write
from im2.web.deps import ApiActor, DbDep, NowDep, SettingsDep, client_ip
from im2.web.params import Id
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import require

router = APIRouter(prefix="/api/v1", tags=["incentives"])


def _check_participant(
    session: Session, *, actor: Actor, participant_id: int, campaign_id: int | None = None
) -> None:
    """404 unless the participant is of the actor's workspace; 422 unless the campaign (when
    given) is too."""
    service.check_participant(
        session, workspace_id=actor.workspace_id, participant_id=participant_id
    )
    if campaign_id is not None and not service.campaign_is_theirs(
        session, actor=actor, campaign_id=campaign_id
    ):
        raise InvalidInput(_("There is no such campaign."), field="campaign_id")


def _grant_read(session: Session, result: GrantResult) -> GrantRead:
    """A grant's answer; a repeated key answers with the code the first call gave."""
    code = result.coupon_code
    if result.status == "duplicate" and result.grant_id is not None:
        code = service.grant_coupon_code(session, grant_id=result.grant_id)
    return GrantRead(status=result.status, grant_id=result.grant_id, coupon_code=code)


def _pool(ref: PoolRef) -> PoolRead:
    return PoolRead.model_validate(ref, from_attributes=True)


@router.get(
    "/campaigns/{campaign_id}/coupon-pools",
    response_model=list[PoolRead],
    summary="The campaign's coupon pools with their counts",
)
def list_pools(campaign_id: Id, actor: ApiActor, db: DbDep) -> list[PoolRead]:
    require(actor, Permission.READ_CAMPAIGNS)
    with db.session() as session:
        return [
            _pool(p)
            for p in service.list_pools(
                session, workspace_id=actor.workspace_id, campaign_id=campaign_id
            )
        ]


@router.post(
    "/campaigns/{campaign_id}/coupon-pools",
    response_model=PoolRead,
    status_code=201,
    summary="Create a coupon pool (codes are then generated or imported)",
)
def create_pool(
    campaign_id: Id, body: PoolCreate, actor: ApiActor, db: DbDep, now: NowDep
) -> PoolRead:
    with db.transaction() as session:
        return _pool(
            service.do_create_pool(
                session,
                actor=actor,
                campaign_id=campaign_id,
                name=body.name,
                description=body.description,
                max_uses=body.max_uses,
                expires_at=body.expires_at,
                cost_points=body.cost_points,
                now=now,
            )
        )


@router.post(
    "/coupon-pools/{pool_id}/codes/generate",
    response_model=CodesAdded,
    status_code=201,
    summary="Generate unguessable codes with a check character",
)
def generate_codes(
    pool_id: Id, body: CodesGenerate, actor: ApiActor, db: DbDep, now: NowDep
) -> CodesAdded:
    total = write(
        db, service.do_generate_codes, actor=actor, pool_id=pool_id, count=body.count, now=now
    )
    return CodesAdded(added=body.count, total=total)


@router.post(
    "/coupon-pools/{pool_id}/codes/import",
    response_model=CodesAdded,
    status_code=201,
    summary="Import a shop's own codes (all or nothing)",
)
def import_codes(
    pool_id: Id, body: CodesImport, actor: ApiActor, db: DbDep, now: NowDep
) -> CodesAdded:
    total = write(
        db, service.do_import_codes, actor=actor, pool_id=pool_id, codes=body.codes, now=now
    )
    return CodesAdded(added=len(body.codes), total=total)


@router.post(
    "/coupon-pools/{pool_id}/issue",
    response_model=GrantRead,
    summary="Give a free code of the pool to a participant (idempotent by key)",
)
def issue_coupon(
    pool_id: Id, body: CouponIssue, actor: ApiActor, db: DbDep, now: NowDep
) -> GrantRead:
    with db.transaction() as session:
        result = service.do_issue_coupon(
            session,
            actor=actor,
            pool_id=pool_id,
            participant_id=body.participant_id,
            key=body.key,
            reason=body.reason,
            now=now,
        )
        return _grant_read(session, result)


@router.get("/coupons/{code}", response_model=CouponRead, summary="Look a code up")
def get_coupon(code: str, actor: ApiActor, db: DbDep, now: NowDep) -> CouponRead:
    require(actor, Permission.READ_CAMPAIGNS)
    ref = read(db, service.find_coupon, workspace_id=actor.workspace_id, code=code, now=now)
    if ref is None:
        if service.is_typo(service.normalise_code(code)):
            raise service.typo_error()
        raise NotFound(_("There is no such coupon code."), field="code")
    return CouponRead(**ref.__dict__)


def _redemption(ref: RedemptionRef) -> RedemptionRead:
    return RedemptionRead(
        id=ref.id,
        code=ref.code,
        campaign_id=ref.campaign_id,
        order_id=ref.order_id,
        store=ref.store,
        redeemed_at=ref.created_at,
        uses=ref.uses,
        max_uses=ref.max_uses,
        flagged=ref.review is not None,
    )


@router.post(
    "/redemptions",
    response_model=RedemptionRead,
    status_code=201,
    summary="Redeem a code at a shop or point of sale (idempotent by order id or Idempotency-Key)",
)
def redeem(
    body: RedemptionCreate,
    request: Request,
    actor: ApiActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
) -> RedemptionRead:
    ref = write(
        db,
        service.do_redeem,
        actor=actor,
        code=body.code,
        order_id=body.order_id,
        store=body.store,
        ip=client_ip(request, settings),
        now=now,
    )
    return _redemption(ref)


@router.get(
    "/participants/{participant_id}/balance",
    response_model=BalanceRead,
    summary="A participant's spendable points",
)
def balance(participant_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> BalanceRead:
    require(actor, Permission.READ_CAMPAIGNS)
    with db.session() as session:
        _check_participant(session, actor=actor, participant_id=participant_id)
        ref = service.get_balance(
            session, workspace_id=actor.workspace_id, participant_id=participant_id, now=now
        )
    return BalanceRead(**ref.__dict__)


@router.post(
    "/participants/{participant_id}/points",
    response_model=GrantRead,
    summary="Award points to a participant (idempotent by key)",
)
def award(
    participant_id: Id, body: PointsAward, actor: ApiActor, db: DbDep, now: NowDep
) -> GrantRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    with db.transaction() as session:
        _check_participant(
            session, actor=actor, participant_id=participant_id, campaign_id=body.campaign_id
        )
        result = service.grant_reward(
            session,
            workspace_id=actor.workspace_id,
            campaign_id=body.campaign_id,
            participant_id=participant_id,
            reward=RewardSpec(kind=RewardKind.POINTS, points=body.points),
            key=f"api:{body.key}",
            reason=body.reason,
            now=now,
        )
    return GrantRead(status=result.status, grant_id=result.grant_id, coupon_code=None)


@router.post(
    "/participants/{participant_id}/purchases",
    response_model=GrantRead,
    summary="Spend a participant's points on a coupon or prize of the points store "
    "(idempotent by key; 409 when short of points or out of stock, nothing spent)",
)
def purchase(
    participant_id: Id, body: PurchaseCreate, actor: ApiActor, db: DbDep, now: NowDep
) -> GrantRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    with db.transaction() as session:
        _check_participant(
            session, actor=actor, participant_id=participant_id, campaign_id=body.campaign_id
        )
        result = service.do_buy(
            session,
            workspace_id=actor.workspace_id,
            campaign_id=body.campaign_id,
            participant_id=participant_id,
            item=body.item,
            item_id=body.item_id,
            key=f"api:{body.key}",
            now=now,
        )
        return _grant_read(session, result)


@router.get(
    "/participants/{participant_id}/ledger",
    response_model=list[LedgerEntryRead],
    summary="A participant's points ledger, newest first (at most 500 entries)",
)
def ledger(participant_id: Id, actor: ApiActor, db: DbDep) -> list[LedgerEntryRead]:
    require(actor, Permission.READ_CAMPAIGNS)
    with db.session() as session:
        _check_participant(session, actor=actor, participant_id=participant_id)
        lines = service.list_ledger(
            session, workspace_id=actor.workspace_id, participant_id=participant_id, limit=500
        )
    return [LedgerEntryRead.model_validate(line, from_attributes=True) for line in lines]


@router.get(
    "/campaigns/{campaign_id}/prizes",
    response_model=list[PrizeRead],
    summary="The campaign's prizes with their stock",
)
def list_prizes(campaign_id: Id, actor: ApiActor, db: DbDep) -> list[PrizeRead]:
    require(actor, Permission.READ_CAMPAIGNS)
    refs = read(db, service.list_prizes, workspace_id=actor.workspace_id, campaign_id=campaign_id)
    return [PrizeRead(**ref.__dict__) for ref in refs]


@router.post(
    "/campaigns/{campaign_id}/prizes",
    response_model=PrizeRead,
    status_code=201,
    summary="Add a prize with its stock (and a price in points to put it in the store)",
)
def create_prize(
    campaign_id: Id, body: PrizeCreate, actor: ApiActor, db: DbDep, now: NowDep
) -> PrizeRead:
    ref = write(
        db,
        service.do_create_prize,
        actor=actor,
        campaign_id=campaign_id,
        name=body.name,
        description=body.description,
        units=body.units,
        cost_points=body.cost_points,
        now=now,
    )
    return PrizeRead(**ref.__dict__)
