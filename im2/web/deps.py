"""Dependencies shared by the JSON API and the console pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData
from starlette.responses import Response

from im2.config import Settings
from im2.db import Database
from im2.errors import Unauthorized
from im2.i18n import _
from im2.live.hub import Hub
from im2.participation.limits import ActionLimiter
from im2.participation.schemas import Visitor
from im2.web.csrf import FIELD, check_csrf
from im2.workspaces import service as workspaces
from im2.workspaces.areas import area_permissions
from im2.workspaces.schemas import Actor, SessionUser

SESSION_COOKIE = "im2_session"


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_now(request: Request) -> datetime:
    now: datetime = request.app.state.clock.now()
    return now


DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
NowDep = Annotated[datetime, Depends(get_now)]


def _check_area(actor: Actor, request: Request) -> None:
    """The role matrix's areas (listening, influence, exports) at the boundary."""
    for permission in area_permissions(request.url.path):
        workspaces.require(actor, permission)


def api_actor(
    request: Request,
    db: DbDep,
    now: NowDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Actor:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized(_("Send an API token in the header: Authorization: Bearer <token>."))
    raw = authorization[7:].strip()
    with db.session() as session:
        actor, stale = workspaces.authenticate_token(session, raw_token=raw, now=now)
    if stale:
        with db.transaction() as session:
            workspaces.touch_token(session, token_id=actor.id or 0, now=now)
    _check_area(actor, request)
    return actor


ApiActor = Annotated[Actor, Depends(api_actor)]


class LoginRequired(Exception):
    """Raised by console dependencies; the app answers with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def console_user(request: Request, db: DbDep, now: NowDep) -> SessionUser:
    raw = request.cookies.get(SESSION_COOKIE)
    user = None
    if raw:
        with db.session() as session:
            user = workspaces.get_session_user(session, raw_token=raw, now=now)
    if user is None:
        raise LoginRequired(str(request.url.path))
    request.state.user = user
    return user


ConsoleUser = Annotated[SessionUser, Depends(console_user)]


def console_actor(request: Request, workspace: str, user: ConsoleUser, db: DbDep) -> Actor:
    with db.session() as session:
        actor = workspaces.actor_for_user(session, user=user, workspace_slug=workspace)
    request.state.actor = actor
    _check_area(actor, request)
    return actor


ConsoleActor = Annotated[Actor, Depends(console_actor)]


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def get_limiter(request: Request) -> ActionLimiter:
    limiter: ActionLimiter = request.app.state.limiter
    return limiter


HubDep = Annotated[Hub, Depends(get_hub)]
LimiterDep = Annotated[ActionLimiter, Depends(get_limiter)]

CHANNEL_COOKIE = "im2_ch"
REFERRER_COOKIE = "im2_ref"
LAST_REFERRER_COOKIE = "im2_ref_last"


def client_ip(request: Request, settings: Settings) -> str | None:
    if settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()[:45]
    return request.client.host if request.client else None


def get_visitor(request: Request, settings: SettingsDep) -> Visitor:
    device_id = getattr(request.state, "device_id", None)
    if not device_id:
        if "x-im2-token" in request.headers:  # a widget's identity that did not check out
            raise Unauthorized(_("This widget token is not valid; get a new one."))
        raise Unauthorized(_("Your browser did not send its cookie; enable cookies and reload."))
    channel = request.query_params.get("ch") or request.cookies.get(CHANNEL_COOKIE)
    return Visitor(
        device_id=device_id,
        ip=client_ip(request, settings),
        user_agent=request.headers.get("user-agent"),
        channel=(channel or None) and channel[:32],
        # First touch: the share code of the link that first brought this browser here.
        referrer=(request.cookies.get(REFERRER_COOKIE) or "")[:16] or None,
    )


VisitorDep = Annotated[Visitor, Depends(get_visitor)]


def remember_channel(request: Request, response: Response) -> Response:
    """A landing with ?ch=weibo remembers the channel for the visitor's later actions."""
    channel = request.query_params.get("ch")
    if channel:
        response.set_cookie(CHANNEL_COOKIE, channel[:32], max_age=30 * 24 * 3600, samesite="lax")
    return response


def shown_token(request: Request) -> str:
    """A signed 'page shown at' stamp for public forms; its age tells how fast a human was."""
    secret = request.app.state.settings.secret_key.get_secret_value()
    return str(URLSafeTimedSerializer(secret, salt="im2-shown").dumps("shown"))


def seconds_on_page(request: Request, token: str | None) -> float | None:
    if not token:
        return None
    secret = request.app.state.settings.secret_key.get_secret_value()
    try:
        _value, signed_at = URLSafeTimedSerializer(secret, salt="im2-shown").loads(
            token, max_age=24 * 3600, return_timestamp=True
        )
    except BadSignature:
        return None
    # Wall-clock time on both sides (itsdangerous stamps with it): this measures how fast a
    # person really was, whatever the app clock says.
    elapsed: float = (datetime.now(UTC) - signed_at).total_seconds()
    return max(0.0, elapsed)


async def csrf_form(request: Request) -> AsyncIterator[FormData]:
    """The posted form, after its CSRF token was checked. Its uploaded files are closed once
    the route is done (the form is parsed here, so nothing else would close them)."""
    form = await request.form()
    try:
        token = form.get(FIELD)
        check_csrf(request, token if isinstance(token, str) else None)
        yield form
    finally:
        await form.close()


CsrfForm = Annotated[FormData, Depends(csrf_form)]
