"""Console page for SMS: the workspace's provider account and the delivery log."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from im2.config import Settings
from im2.messaging import service
from im2.messaging.schemas import (
    DELIVERY_STATUS_LABELS,
    KIND_LABELS,
    PROVIDER_LABELS,
    SmsSettingsRead,
    SmsSettingsUpdate,
)
from im2.web.db_calls import write
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep, SettingsDep
from im2.web.forms import FormState, save_or_show_again
from im2.web.templating import render
from im2.workspaces.schemas import Actor, Permission

router = APIRouter(prefix="/console/w/{workspace}/messaging", include_in_schema=False)
LOG_SIZE = 100
# What the form shows of saved settings: everything but the secret, which is never shown.
FORM_FIELDS = ("provider", "access_key_id", "sign_name", "app_id", "region")


def _values(found: SmsSettingsRead | None) -> dict[str, Any]:
    if found is None:
        return {"provider": "aliyun", "daily_cap_per_number": 10, "active": True}
    return {
        **{k: getattr(found, k) or "" for k in FORM_FIELDS},
        "provider": found.provider.value,
        "verify_template": found.templates.get("verify_code", ""),
        "daily_cap_per_number": found.daily_cap_per_number,
        "active": found.active,
    }


def _form_values(form: FormData) -> dict[str, Any]:
    return {
        "provider": str(form.get("provider", "")),
        "access_key_id": str(form.get("access_key_id", "")),
        "sign_name": str(form.get("sign_name", "")),
        "app_id": str(form.get("app_id", "")),
        "region": str(form.get("region", "")),
        "verify_template": str(form.get("verify_template", "")),
        "daily_cap_per_number": str(form.get("daily_cap_per_number", "")),
        "active": form.get("active") == "on",
    }


def _page(
    request: Request,
    actor: Actor,
    db: Any,
    settings: Settings,
    *,
    state: FormState = FormState(),
    saved: bool = False,
) -> Response:
    with db.session() as session:
        found = service.get_sms_settings(session, actor=actor)
        log = service.list_deliveries(session, actor=actor, limit=LOG_SIZE)
    return render(
        request,
        "messaging/settings.html",
        {
            "nav": "messaging",
            "can_manage": actor.can(Permission.MANAGE_TOKENS),
            "base": f"/console/w/{actor.workspace_slug}/messaging",
            "found": found,
            "active": found is not None and found.active,
            "log_only": settings.code_sender == "console",
            "production": settings.env.value == "production",
            **state.shown(_values(found)),
            "saved": saved or request.query_params.get("saved") == "1",
            "deliveries": log,
            "refused": {d.id for d in log if service.credentials_refused(d)},
            "providers": PROVIDER_LABELS,
            "kinds": KIND_LABELS,
            "status_labels": DELIVERY_STATUS_LABELS,
        },
        status_code=state.status_code,
    )


@router.get("")
def messaging_page(
    request: Request, actor: ConsoleActor, db: DbDep, settings: SettingsDep
) -> Response:
    return _page(request, actor, db, settings)


@router.post("")
def save_settings(
    request: Request,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
    settings: SettingsDep,
) -> Response:
    values = _form_values(form)

    def save() -> None:
        data = SmsSettingsUpdate(
            provider=values["provider"],
            access_key_id=values["access_key_id"],
            access_key_secret=str(form.get("access_key_secret", "")) or None,
            sign_name=values["sign_name"],
            app_id=values["app_id"] or None,
            region=values["region"] or None,
            verify_template=values["verify_template"],
            daily_cap_per_number=values["daily_cap_per_number"] or 10,
            active=values["active"],
        )
        write(db, service.do_save_sms_settings, actor=actor, data=data, now=now)

    return save_or_show_again(
        save,
        again=partial(_page, request, actor, db, settings),
        values=values,
        done=f"/console/w/{actor.workspace_slug}/messaging?saved=1",
    )
