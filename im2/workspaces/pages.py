"""Console pages: login and logout, language, members, API tokens, audit log."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from im2.errors import IM2Error
from im2.events.schemas import ActorType
from im2.i18n import LOCALES, _, normalize_locale
from im2.web.audit_words import describe
from im2.web.context import LANG_COOKIE
from im2.web.db_calls import read, write
from im2.web.deps import (
    SESSION_COOKIE,
    ConsoleActor,
    ConsoleUser,
    CsrfForm,
    DbDep,
    NowDep,
    SettingsDep,
    client_ip,
)
from im2.web.forms import FormState, act_or_show_again
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces import service
from im2.workspaces.schemas import ROLE_LABELS, Permission, Role
from im2.workspaces.throttle import LoginThrottle

router = APIRouter(prefix="/console", include_in_schema=False)


def _safe_next(value: str | None) -> str:
    """Only same-site paths, so the login form cannot be used as an open redirect."""
    if not value:
        return "/console"
    parsed = urlparse(value)
    if parsed.scheme or parsed.netloc or not value.startswith("/") or value.startswith("//"):
        return "/console"
    return value


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "workspaces/login.html", {"next": _safe_next(next), "email": ""})


@router.post("/login")
def login(
    request: Request, form: CsrfForm, db: DbDep, now: NowDep, settings: SettingsDep
) -> Response:
    email = str(form.get("email", "")).strip()[:320]
    password = str(form.get("password", ""))[:1024]
    next_url = _safe_next(str(form.get("next", "")))
    throttle: LoginThrottle = request.app.state.login_throttle
    ip = client_ip(request, settings) or "-"
    if throttle.blocked(ip=ip, email=email):
        # Checked before the password, so even the right one waits: the answer must not tell
        # a guesser that this guess was the right one.
        message = _(
            "Too many failed sign-ins from your network; wait {minutes} minutes and try again."
        ).format(minutes=throttle.window_minutes)
        return _login_refused(request, next_url, email, message, status_code=429)
    with db.transaction() as session:
        result = service.do_login(session, email=email, password=password, now=now)
        raw = None
        if result.user_id is not None:
            raw = service.do_start_session(
                session,
                user_id=result.user_id,
                now=now,
                lifetime=timedelta(hours=settings.session_hours),
                user_agent=request.headers.get("user-agent"),
            )
    if raw is None:
        throttle.failed(ip=ip, email=email)
        return _login_refused(request, next_url, email, result.error or "", status_code=401)
    throttle.succeeded(ip=ip, email=email)
    response = RedirectResponse(next_url, status_code=303)
    # Secure is added by im2.web.security (HTTPS, or production).
    response.set_cookie(
        SESSION_COOKIE, raw, max_age=settings.session_hours * 3600, httponly=True, samesite="lax"
    )
    return response


def _login_refused(
    request: Request, next_url: str, email: str, message: str, *, status_code: int
) -> Response:
    return render(
        request,
        "workspaces/login.html",
        {"next": next_url, "email": email, "error": message},
        status_code=status_code,
    )


@router.post("/logout")
def logout(request: Request, form: CsrfForm, db: DbDep, now: NowDep) -> Response:
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        write(db, service.do_end_session, raw_token=raw, now=now)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{locale}")
def switch_language(request: Request, locale: str, next: str | None = None) -> Response:
    chosen = normalize_locale(locale)
    if chosen not in LOCALES:
        chosen = LOCALES[0]
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="lax")
    return response


@router.get("")
def console_home(request: Request, user: ConsoleUser) -> Response:
    if not user.workspaces:
        return render(
            request,
            "error.html",
            {
                "status": 403,
                "message": _("Your account is not a member of any workspace yet."),
            },
            status_code=403,
        )
    return RedirectResponse(f"/console/w/{user.workspaces[0][0]}/campaigns", status_code=303)


# --- members ------------------------------------------------------------------------------


def _members_page(
    request: Request,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
    *,
    state: FormState = FormState(),
) -> Response:
    members = read(db, service.list_members, actor=actor, now=now)
    return render(
        request,
        "workspaces/members.html",
        {
            "members": members,
            "roles": list(Role),
            "role_labels": ROLE_LABELS,
            "can_manage": actor.can(Permission.MANAGE_MEMBERS),
            "errors": state.errors,
            "form": state.values or {},
            "nav": "members",
        },
        status_code=state.status_code,
    )


@router.get("/w/{workspace}/members")
def members(request: Request, actor: ConsoleActor, db: DbDep, now: NowDep) -> Response:
    return _members_page(request, actor, db, now)


@router.post("/w/{workspace}/members")
def add_member(
    request: Request, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    values = {k: str(form.get(k, "")) for k in ("email", "display_name", "role", "password")}
    try:
        role = Role(values["role"])
    except ValueError:
        return _members_page(
            request,
            actor,
            db,
            now,
            state=FormState(values, {"role": _("Choose one of the options.")}, 422),
        )

    def act() -> None:
        write(
            db,
            service.do_invite_member,
            actor=actor,
            email=values["email"],
            display_name=values["display_name"] or values["email"].split("@")[0],
            role=role,
            password=values["password"] or None,
            now=now,
        )

    return act_or_show_again(
        act,
        again=lambda exc: _members_page(
            request, actor, db, now, state=FormState.refused(exc, values)
        ),
        done=f"/console/w/{actor.workspace_slug}/members",
        propagate=(),
    )


@router.post("/w/{workspace}/members/{user_id}")
def change_member(
    request: Request, user_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    action = str(form.get("action", "role"))
    try:
        with db.transaction() as session:
            if action == "remove":
                service.do_remove_member(session, actor=actor, user_id=user_id, now=now)
            else:
                service.do_change_role(
                    session,
                    actor=actor,
                    user_id=user_id,
                    role=Role(str(form.get("role"))),
                    now=now,
                )
    except ValueError:
        return _members_page(
            request,
            actor,
            db,
            now,
            state=FormState(errors={"__all__": _("Choose one of the options.")}, status_code=422),
        )
    except IM2Error as exc:
        refused = FormState(errors={"__all__": exc.message}, status_code=exc.status_code)
        return _members_page(request, actor, db, now, state=refused)
    return RedirectResponse(f"/console/w/{actor.workspace_slug}/members", status_code=303)


# --- tokens -------------------------------------------------------------------------------


def _tokens_page(
    request: Request,
    actor: ConsoleActor,
    db: DbDep,
    *,
    created: object = None,
    state: FormState = FormState(),
) -> Response:
    tokens = read(db, service.list_tokens, actor=actor)
    return render(
        request,
        "workspaces/tokens.html",
        {
            "tokens": tokens,
            "roles": list(Role),
            "role_labels": ROLE_LABELS,
            "can_manage": actor.can(Permission.MANAGE_TOKENS),
            "created": created,
            "errors": state.errors,
            "nav": "tokens",
        },
        status_code=state.status_code,
    )


@router.get("/w/{workspace}/tokens")
def tokens(request: Request, actor: ConsoleActor, db: DbDep) -> Response:
    return _tokens_page(request, actor, db)


@router.post("/w/{workspace}/tokens")
def create_token(
    request: Request, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    try:
        role = Role(str(form.get("role", "")))
        days_text = str(form.get("expires_in_days", "")).strip()
        days = int(days_text) if days_text else None
        if days is not None and not 1 <= days <= 3650:
            raise ValueError(days)
    except ValueError:
        message = _("Enter a whole number of days from 1 to 3650.")
        return _tokens_page(
            request,
            actor,
            db,
            state=FormState(errors={"expires_in_days": message}, status_code=422),
        )

    def act() -> object:
        return write(
            db,
            service.do_create_token,
            actor=actor,
            name=str(form.get("name", "")),
            role=role,
            expires_at=now + timedelta(days=days) if days else None,
            now=now,
        )

    return act_or_show_again(
        act,
        again=lambda exc: _tokens_page(request, actor, db, state=FormState.refused(exc)),
        # Shown once, on this response only; never in a URL (it would land in logs and history).
        done=lambda created: _tokens_page(
            request, actor, db, created=created, state=FormState(status_code=201)
        ),
        propagate=(),
    )


@router.post("/w/{workspace}/tokens/{token_id}/revoke")
def revoke_token(
    request: Request, token_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    write(db, service.do_revoke_token, actor=actor, token_id=token_id, now=now)
    return RedirectResponse(f"/console/w/{actor.workspace_slug}/tokens", status_code=303)


# --- audit --------------------------------------------------------------------------------


@router.get("/w/{workspace}/audit")
def audit(
    request: Request,
    actor: ConsoleActor,
    db: DbDep,
    before: Annotated[Id | None, Query()] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    page_size = 50
    entries = read(
        db,
        service.list_audit,
        actor=actor,
        before_id=before,
        limit=page_size + 1,
        action_prefix=action,
    )
    more = len(entries) > page_size
    entries = entries[:page_size]
    return render(
        request,
        "workspaces/audit.html",
        {
            "entries": [(e, describe(e)) for e in entries],
            "next_before": entries[-1].id if more and entries else None,
            "action": action or "",
            "actor_types": {t.value: t for t in ActorType},
            "nav": "audit",
        },
    )
