"""JSON API of the embed domain: the brand's allowed origins (token auth), and the public
routes a widget, a mini-program or an app uses (docs/embed.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from im2.embed import service
from im2.embed.schemas import EmbedOriginIn, EmbedOriginRead, EmbedToken, WidgetActivity
from im2.embed.tokens import issue_token
from im2.errors import Forbidden
from im2.i18n import _
from im2.web.deps import ApiActor, DbDep, LimiterDep, NowDep, SettingsDep, VisitorDep, client_ip
from im2.web.params import Id

router = APIRouter(prefix="/api/v1", tags=["embed"])


@router.get(
    "/embed/origins",
    response_model=list[EmbedOriginRead],
    summary="The sites allowed to embed this workspace's activities",
)
def list_origins(actor: ApiActor, db: DbDep) -> list[EmbedOriginRead]:
    with db.session() as session:
        return service.list_origins(session, actor=actor)


@router.post(
    "/embed/origins",
    response_model=EmbedOriginRead,
    status_code=201,
    summary="Allow a site (scheme://host[:port], or https://*.example.com) to embed",
)
def add_origin(body: EmbedOriginIn, actor: ApiActor, db: DbDep, now: NowDep) -> EmbedOriginRead:
    with db.transaction() as session:
        return service.do_add_origin(session, actor=actor, origin=body.origin, now=now)


@router.delete("/embed/origins/{origin_id}", status_code=204, summary="Stop a site embedding")
def remove_origin(origin_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> Response:
    with db.transaction() as session:
        service.do_remove_origin(session, actor=actor, origin_id=origin_id, now=now)
    return Response(status_code=204)


@router.post(
    "/public/campaigns/{slug}/tokens",
    response_model=EmbedToken,
    status_code=201,
    tags=["participants"],
    summary="A new widget identity for this campaign's workspace (send it as X-IM2-Token)",
)
def new_token(
    slug: str, request: Request, db: DbDep, settings: SettingsDep, limiter: LimiterDep
) -> EmbedToken:
    # Each token is a new identity: new identities from one network are limited like actions.
    ip = client_ip(request, settings)
    limiter.hit(device_id=f"token-issue:{ip}", ip=ip)
    with db.session() as session:
        workspace_id = service.workspace_of_campaign(session, slug=slug)
    secret = settings.secret_key.get_secret_value()
    return EmbedToken(token=issue_token(secret, workspace_id=workspace_id))


@router.get(
    "/public/campaigns/{slug}/activities/{activity_id}",
    response_model=WidgetActivity,
    tags=["participants"],
    summary="An activity as this visitor sees it (X-IM2-Token, or the device cookie)",
)
def read_activity(
    slug: str, activity_id: Id, request: Request, visitor: VisitorDep, db: DbDep, now: NowDep
) -> WidgetActivity:
    token_workspace = getattr(request.state, "token_workspace_id", None)
    with db.session() as session:
        if token_workspace is not None and token_workspace != service.workspace_of_campaign(
            session, slug=slug
        ):
            raise Forbidden(_("This widget token belongs to another brand."))
        return service.read_widget_activity(
            session, slug=slug, activity_id=activity_id, device_id=visitor.device_id, now=now
        )
