"""JSON API of retention: read and set the policy, read the last runs."""

from __future__ import annotations

from fastapi import APIRouter

from im2.privacy.retention import service
from im2.privacy.retention.schemas import (
    RetentionPolicyRead,
    RetentionPolicyUpdate,
    RetentionRunRead,
)
from im2.web.deps import ApiActor, DbDep, NowDep

router = APIRouter(prefix="/api/v1/privacy/retention", tags=["privacy"])


@router.get("", response_model=RetentionPolicyRead, summary="The workspace's retention policy")
def get_policy(actor: ApiActor, db: DbDep) -> RetentionPolicyRead:
    with db.session() as session:
        return service.get_policy(session, actor=actor)


@router.put("", response_model=RetentionPolicyRead, summary="Set the retention policy")
def set_policy(
    body: RetentionPolicyUpdate, actor: ApiActor, db: DbDep, now: NowDep
) -> RetentionPolicyRead:
    with db.transaction() as session:
        return service.do_set_policy(session, actor=actor, data=body, now=now)


@router.get("/runs", response_model=list[RetentionRunRead], summary="The last retention runs")
def list_runs(actor: ApiActor, db: DbDep) -> list[RetentionRunRead]:
    with db.session() as session:
        return service.list_runs(session, actor=actor)
