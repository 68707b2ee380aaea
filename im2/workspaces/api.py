"""JSON API: members (users) and API tokens of the caller's workspace."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Query, Response

from im2.web.db_calls import read, write
from im2.web.deps import ApiActor, DbDep, NowDep
from im2.web.params import Id
from im2.workspaces import service
from im2.workspaces.schemas import (
    AuditRead,
    MemberCreate,
    MemberRead,
    MemberUpdate,
    TokenCreate,
    TokenCreated,
    TokenRead,
)

router = APIRouter(prefix="/api/v1", tags=["workspace"])


@router.get("/users", response_model=list[MemberRead], summary="List the workspace's members")
def list_users(actor: ApiActor, db: DbDep, now: NowDep) -> list[MemberRead]:
    return read(db, service.list_members, actor=actor, now=now)


@router.post("/users", response_model=MemberRead, status_code=201, summary="Add a member")
def add_user(body: MemberCreate, actor: ApiActor, db: DbDep, now: NowDep) -> MemberRead:
    return write(
        db,
        service.do_invite_member,
        actor=actor,
        email=str(body.email),
        display_name=body.display_name,
        role=body.role,
        password=body.password,
        now=now,
    )


@router.patch("/users/{user_id}", response_model=MemberRead, summary="Change a member's role")
def change_user(
    user_id: Id, body: MemberUpdate, actor: ApiActor, db: DbDep, now: NowDep
) -> MemberRead:
    return write(db, service.do_change_role, actor=actor, user_id=user_id, role=body.role, now=now)


@router.delete("/users/{user_id}", status_code=204, summary="Remove a member")
def remove_user(user_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> Response:
    write(db, service.do_remove_member, actor=actor, user_id=user_id, now=now)
    return Response(status_code=204)


@router.get("/tokens", response_model=list[TokenRead], summary="List API tokens")
def list_tokens(actor: ApiActor, db: DbDep) -> list[TokenRead]:
    return read(db, service.list_tokens, actor=actor)


@router.post(
    "/tokens",
    response_model=TokenCreated,
    status_code=201,
    summary="Create an API token (the secret is in this response only)",
)
def create_token(body: TokenCreate, actor: ApiActor, db: DbDep, now: NowDep) -> TokenCreated:
    expires_at = now + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    return write(
        db,
        service.do_create_token,
        actor=actor,
        name=body.name,
        role=body.role,
        expires_at=expires_at,
        now=now,
    )


@router.delete("/tokens/{token_id}", response_model=TokenRead, summary="Revoke an API token")
def revoke_token(token_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> TokenRead:
    return write(db, service.do_revoke_token, actor=actor, token_id=token_id, now=now)


@router.get("/audit", response_model=list[AuditRead], summary="Audit log, newest first")
def audit(
    actor: ApiActor,
    db: DbDep,
    before_id: Id | None = None,
    limit: int = Query(default=50, ge=1, le=200),
) -> list[AuditRead]:
    return read(db, service.list_audit, actor=actor, before_id=before_id, limit=limit)
