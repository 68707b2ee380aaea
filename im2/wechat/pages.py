"""Console page of WeChat: the workspace's official account (AppID, AppSecret, whether to ask
for the nickname), a button that tests it against WeChat, and what to set on WeChat's side."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from im2.config import Settings
from im2.errors import IM2Error
from im2.i18n import _
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep, SettingsDep
from im2.web.forms import FormState
from im2.web.links import public_base_url
from im2.web.templating import render
from im2.wechat import service, tokens
from im2.wechat.client import WechatError
from im2.wechat.public import ACCOUNTS, CALLBACK_PATH
from im2.wechat.schemas import Credentials
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import require

router = APIRouter(prefix="/console/w/{workspace}/wechat", include_in_schema=False)


def _page(
    request: Request,
    actor: Actor,
    db: Any,
    *,
    state: FormState = FormState(),
    tested: str | None = None,
    test_error: str | None = None,
) -> Response:
    with db.session() as session:
        found = service.get_account(session, actor=actor)
    base = public_base_url(request)
    return render(
        request,
        "wechat/settings.html",
        {
            "nav": "wechat",
            "can_manage": actor.can(Permission.MANAGE_TOKENS),
            "base": f"/console/w/{actor.workspace_slug}/wechat",
            "found": found,
            **state.shown(
                {
                    "app_id": found.app_id if found else "",
                    "ask_userinfo": found.ask_userinfo if found else False,
                }
            ),
            "saved": request.query_params.get("saved") == "1",
            "removed": request.query_params.get("removed") == "1",
            "tested": tested,
            "test_error": test_error,
            "domain": base.split("://", 1)[-1],
            "callback": base + CALLBACK_PATH.format(slug="<campaign>"),
        },
        status_code=state.status_code,
    )


@router.get("")
def wechat_page(request: Request, actor: ConsoleActor, db: DbDep) -> Response:
    return _page(request, actor, db)


@router.post("")
def save_account(
    request: Request, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    app_id = str(form.get("app_id", "")).strip()
    ask_userinfo = form.get("ask_userinfo") == "on"
    values: dict[str, Any] = {"app_id": app_id, "ask_userinfo": ask_userinfo}
    try:
        with db.transaction() as session:
            service.do_set_account(
                session,
                actor=actor,
                app_id=app_id,
                app_secret=str(form.get("app_secret", "")) or None,
                ask_userinfo=ask_userinfo,
                now=now,
            )
    except IM2Error as exc:
        if exc.status_code in (401, 403, 404):
            raise
        errors = {exc.field or "app_id": exc.message}
        return _page(request, actor, db, state=FormState(values, errors, exc.status_code))
    ACCOUNTS.clear()
    return RedirectResponse(f"/console/w/{actor.workspace_slug}/wechat?saved=1", status_code=303)


@router.post("/test")
def test_account(
    request: Request, form: CsrfForm, actor: ConsoleActor, db: DbDep, settings: SettingsDep
) -> Response:
    """Fetch a token and a ticket with the saved credentials, as the share card will: a wrong
    AppSecret, an unknown AppID or a server missing from the IP whitelist is said plainly."""
    require(actor, Permission.MANAGE_TOKENS)
    with db.session() as session:
        found = service.get_account(session, actor=actor)
        creds = service.credentials_of(session, workspace_id=actor.workspace_id)
    if found is None or creds is None:
        return _page(
            request,
            actor,
            db,
            test_error=_("Save the AppID and AppSecret first."),
            state=FormState(status_code=422),
        )
    try:
        _check(request, settings, creds)
    except WechatError as error:
        return _page(request, actor, db, test_error=error.message, state=FormState(status_code=422))
    return _page(request, actor, db, tested=_("WeChat accepted the AppID and AppSecret."))


def _check(request: Request, settings: Settings, creds: Credentials) -> None:
    store = tokens.store_for(request.app.state.db, settings.redis_url)
    service.test_credentials(
        store, creds, api_base=settings.wechat_api_base, now=request.app.state.clock.now
    )


@router.post("/remove")
def remove_account(form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep) -> Response:
    with db.transaction() as session:
        service.do_remove_account(session, actor=actor, now=now)
    ACCOUNTS.clear()
    return RedirectResponse(f"/console/w/{actor.workspace_slug}/wechat?removed=1", status_code=303)
