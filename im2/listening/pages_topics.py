"""Console pages for listening topics (boolean queries, brand or competitor) and for alerts:
the alert list with its evidence and crisis plan, and the workspace's alert settings."""

from __future__ import annotations

import re
from functools import partial
from typing import Any, Final

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from im2.errors import InvalidInput
from im2.i18n import _
from im2.listening import alerting, service, topics
from im2.listening.pages_common import (
    base_url,
    lines,
    listening_page,
    redirect,
    require_write,
    write_or_show_again,
)
from im2.listening.schemas import (
    ListeningSettingsIn,
    ListeningSettingsRead,
    TopicCreate,
    TopicRead,
    TopicUpdate,
)
from im2.web.db_calls import read, write
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep, SettingsDep
from im2.web.forms import (
    FormState,
    blank_to_none,
    first_field,
    raw_values,
    service_error,
    validation_errors,
)
from im2.web.params import Id
from im2.workspaces.schemas import Actor

router = APIRouter()

LADDER_ROWS: Final = 5
# "Name | role | phone | e-mail"; the full-width bar is what Chinese keyboards type.
_CONTACT_SPLIT: Final = re.compile(r"\s*[|｜]\s*")


# --- topics ---------------------------------------------------------------------------------


@router.get("/topics")
def topics_page(request: Request, actor: ConsoleActor, db: DbDep) -> Response:
    topic_list = read(db, topics.list_topics, actor=actor)
    return listening_page(
        request,
        actor,
        "topics",
        "topics",
        {"topics": topic_list},
    )


def _topic_values(topic: TopicRead | None) -> dict[str, str]:
    if topic is None:
        return {
            "kind": "brand",
            "alerts_enabled": "on",
            "sensitivity": "medium",
            "cooldown_minutes": "360",
        }
    return {
        "name": topic.name,
        "query": topic.query,
        "kind": topic.kind.value,
        "alerts_enabled": "on" if topic.alerts_enabled else "",
        "sensitivity": topic.sensitivity.value,
        "cooldown_minutes": str(topic.cooldown_minutes),
    }


def _topic_payload(form: FormData) -> dict[str, Any]:
    raw = raw_values(form)
    payload: dict[str, Any] = {
        "name": raw.get("name", "").strip(),
        "query": raw.get("query", "").strip(),
        "alerts_enabled": bool(raw.get("alerts_enabled")),
    }
    # Left blank, the optional settings keep their defaults (or, when editing, their value).
    for key in ("kind", "sensitivity", "cooldown_minutes"):
        value = blank_to_none(raw.get(key))
        if value is not None:
            payload[key] = value
    return payload


def _topic_form(
    request: Request,
    actor: Actor,
    *,
    topic: TopicRead | None,
    state: FormState,
) -> Response:
    return listening_page(
        request,
        actor,
        "topic_form",
        "topics",
        {"topic": topic},
        state=state,
    )


@router.get("/topics/new")
def new_topic_page(request: Request, actor: ConsoleActor) -> Response:
    require_write(actor)
    return _topic_form(request, actor, topic=None, state=FormState(_topic_values(None)))


@router.post("/topics")
def create_topic(
    request: Request, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    require_write(actor)
    payload = _topic_payload(form)

    def save() -> None:
        data = TopicCreate.model_validate(payload)
        write(db, topics.do_create_topic, actor=actor, data=data, now=now)

    return write_or_show_again(
        save,
        again=partial(_topic_form, request, actor, topic=None),
        values=raw_values(form),
        done=f"{base_url(actor)}/topics",
    )


@router.get("/topics/{topic_id}/edit")
def edit_topic_page(request: Request, topic_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    require_write(actor)
    topic = read(db, topics.get_topic, actor=actor, topic_id=topic_id)
    return _topic_form(request, actor, topic=topic, state=FormState(_topic_values(topic)))


@router.post("/topics/{topic_id}/edit")
def edit_topic(
    request: Request,
    topic_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    require_write(actor)
    topic = read(db, topics.get_topic, actor=actor, topic_id=topic_id)

    def save() -> None:
        data = TopicUpdate.model_validate(_topic_payload(form))
        write(db, topics.do_update_topic, actor=actor, topic_id=topic_id, data=data, now=now)

    return write_or_show_again(
        save,
        again=partial(_topic_form, request, actor, topic=topic),
        values=raw_values(form),
        done=f"{base_url(actor)}/topics",
    )


@router.post("/topics/{topic_id}/delete")
def delete_topic(
    topic_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    write(db, topics.do_delete_topic, actor=actor, topic_id=topic_id, now=now)
    return redirect(f"{base_url(actor)}/topics")


# --- alerts ---------------------------------------------------------------------------------


@router.get("/alerts")
def alerts_page(request: Request, actor: ConsoleActor, db: DbDep) -> Response:
    alerts = read(db, alerting.list_alerts, actor=actor, limit=50)
    return listening_page(
        request,
        actor,
        "alerts",
        "alerts",
        {"alerts": alerts},
    )


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge_alert(
    alert_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    write(db, alerting.do_acknowledge_alert, actor=actor, alert_id=alert_id, now=now)
    return redirect(f"{base_url(actor)}/alerts#alert-{alert_id}")


def _settings_values(settings: ListeningSettingsRead) -> dict[str, str]:
    values = {
        "webhook_url": settings.webhook_url or "",
        "alert_emails": "\n".join(settings.alert_emails),
        "smtp_host": settings.smtp_host or "",
        "smtp_port": str(settings.smtp_port),
        "smtp_sender": settings.smtp_sender,
        "crisis_steps": "\n".join(settings.crisis_steps),
        "crisis_contacts": "\n".join(
            " | ".join([c.name, c.role, c.phone, c.email]).rstrip(" |")
            for c in settings.crisis_contacts
        ),
        "vip_followers": str(settings.vip_followers),
        "inbox_keywords": "\n".join(settings.inbox_keywords),
    }
    for i, step in enumerate(settings.escalation_ladder[:LADDER_ROWS]):
        values[f"ladder_name_{i}"] = step.name
        values[f"ladder_minutes_{i}"] = str(step.minutes)
    return values


def _settings_payload(raw: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The API-shaped settings, and the errors found while reading the free-text fields."""
    errors: dict[str, str] = {}
    emails = lines(raw.get("alert_emails", ""))
    if any("@" not in e or " " in e for e in emails):
        errors["alert_emails"] = _("Put one e-mail address on each line.")
    contacts = []
    for line in lines(raw.get("crisis_contacts", "")):
        parts = _CONTACT_SPLIT.split(line)
        if len(parts) > 4:
            errors["crisis_contacts"] = _("Use at most four parts: name | role | phone | e-mail.")
            break
        parts += [""] * (4 - len(parts))
        contacts.append({"name": parts[0], "role": parts[1], "phone": parts[2], "email": parts[3]})
    ladder = []
    for i in range(LADDER_ROWS):
        name = raw.get(f"ladder_name_{i}", "").strip()
        minutes = raw.get(f"ladder_minutes_{i}", "").strip()
        if name or minutes:
            ladder.append({"name": name, "minutes": minutes or None})
    payload = {
        "webhook_url": blank_to_none(raw.get("webhook_url", "").strip()),
        "alert_emails": emails,
        "smtp_host": blank_to_none(raw.get("smtp_host", "").strip()),
        "smtp_port": blank_to_none(raw.get("smtp_port")) or 25,
        "smtp_sender": raw.get("smtp_sender", "").strip() or "im2-alerts@localhost",
        "crisis_steps": lines(raw.get("crisis_steps", "")),
        "crisis_contacts": contacts,
        "vip_followers": blank_to_none(raw.get("vip_followers")) or 0,
        "inbox_keywords": lines(raw.get("inbox_keywords", "")),
        "escalation_ladder": ladder,
    }
    return payload, errors


def _settings_page(
    request: Request,
    actor: Actor,
    *,
    state: FormState,
    saved: bool = False,
) -> Response:
    return listening_page(
        request,
        actor,
        "settings",
        "alerts",
        {"saved": saved, "ladder_rows": LADDER_ROWS},
        state=state,
    )


@router.get("/settings")
def settings_page(
    request: Request, actor: ConsoleActor, db: DbDep, saved: bool = False
) -> Response:
    require_write(actor)
    settings = read(db, service.get_settings, actor=actor)
    return _settings_page(request, actor, state=FormState(_settings_values(settings)), saved=saved)


@router.post("/settings")
def save_settings(
    request: Request,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
    settings: SettingsDep,
) -> Response:
    require_write(actor)
    raw = raw_values(form)
    payload, errors = _settings_payload(raw)
    try:
        data = ListeningSettingsIn.model_validate(payload)
    except ValidationError as exc:
        errors = {**first_field(validation_errors(exc)), **errors}
    if errors:
        return _settings_page(request, actor, state=FormState(raw, errors, 422))
    try:
        write(
            db,
            service.do_update_settings,
            actor=actor,
            data=data,
            now=now,
            private_networks=settings.webhooks_reach_private_networks,
        )
    except InvalidInput as exc:
        return _settings_page(request, actor, state=FormState(raw, service_error(exc), 422))
    return redirect(f"{base_url(actor)}/settings?saved=true")
