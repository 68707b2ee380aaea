"""Console pages for campaigns: list with filters, template picker, form, detail, transitions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from im2.campaigns import service
from im2.campaigns.presets import (
    PRESETS,
    PRESETS_BY_KEY,
    CampaignPreset,
    create_preset_activities,
)
from im2.campaigns.schemas import (
    CHANNEL_LABELS,
    KPI_LABELS,
    LANGUAGE_LABELS,
    MEDIA_LABELS,
    OBJECTIVE_LABELS,
    STATUS_LABELS,
    TRANSITION_LABELS,
    CampaignCreate,
    CampaignDuplicate,
    CampaignFilter,
    CampaignRead,
    CampaignStatus,
    CampaignUpdate,
    Channel,
    KpiMetric,
    Language,
    Media,
    Objective,
)
from im2.errors import IM2Error, InvalidInput
from im2.i18n import _
from im2.web.audit_words import AuditLine, describe
from im2.web.db_calls import read, write
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.forms import (
    FormState,
    ShowAgain,
    act_or_show_again,
    blank_to_none,
    save_or_show_again,
    see_other,
    service_error,
    validation_errors,
)
from im2.web.params import Id
from im2.web.templating import input_time, render
from im2.workspaces.schemas import Actor, AuditRead, Permission
from im2.workspaces.service import list_audit, require

T = TypeVar("T")

router = APIRouter(prefix="/console/w/{workspace}/campaigns", include_in_schema=False)

KPI_ROWS = 4
COMMON_TIMEZONES = (
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
)


def _vocabulary() -> dict[str, Any]:
    return {
        "objectives": list(Objective),
        "objective_labels": OBJECTIVE_LABELS,
        "channels": list(Channel),
        "channel_labels": CHANNEL_LABELS,
        "media_kinds": list(Media),
        "media_labels": MEDIA_LABELS,
        "kpi_metrics": list(KpiMetric),
        "kpi_labels": KPI_LABELS,
        "statuses": list(CampaignStatus),
        "status_labels": STATUS_LABELS,
        "transition_labels": TRANSITION_LABELS,
        "timezones": COMMON_TIMEZONES,
        "languages": list(Language),
        "language_labels": LANGUAGE_LABELS,
    }


# --- form <-> values ------------------------------------------------------------------------


def _form_values_from_campaign(campaign: CampaignRead) -> dict[str, Any]:
    zone = campaign.timezone
    values: dict[str, Any] = {
        "name": campaign.name,
        "slug": campaign.slug,
        "description": campaign.description,
        "objective": campaign.objective.value,
        "audience": campaign.audience,
        "minors_gate": "on" if campaign.minors_gate else "",
        "default_language": campaign.default_language.value,
        "timezone": zone,
        "starts_at": input_time(campaign.starts_at, zone),
        "ends_at": input_time(campaign.ends_at, zone),
        "template": campaign.template_key or "",
    }
    for language in campaign.languages:
        values[f"lang_{language.value}"] = "on"
    for i, target in enumerate(campaign.kpi_targets):
        values[f"kpi_metric_{i}"] = target.metric.value
        values[f"kpi_value_{i}"] = f"{target.target_value:g}"
        values[f"kpi_deadline_{i}"] = input_time(target.deadline, zone)
    for channel in campaign.channels:
        values[f"ch_{channel.channel.value}"] = "on"
        values[f"media_{channel.channel.value}"] = channel.media.value
        values[f"budget_{channel.channel.value}"] = (
            "" if channel.budget is None else f"{channel.budget:g}"
        )
    return values


def _form_values_from_preset(preset: CampaignPreset | None, now: datetime) -> dict[str, Any]:
    zone = "Asia/Shanghai"
    start = (now.astimezone(ZoneInfo(zone)) + timedelta(days=7)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    values: dict[str, Any] = {
        "timezone": zone,
        "objective": Objective.ENGAGEMENT.value,
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": "",
        f"lang_{Language.ZH_CN.value}": "on",
        "default_language": Language.ZH_CN.value,
    }
    if preset is None:
        values["ends_at"] = (start + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M")
        return values
    values.update(
        {
            "name": _(preset.name),
            "description": _(preset.description),
            "audience": _(preset.audience),
            "objective": preset.objective.value,
            "template": preset.key,
            "slug": f"{preset.key.replace('_', '-')}-{start:%Y%m%d}",
            "ends_at": (start + timedelta(days=preset.duration_days)).strftime("%Y-%m-%dT%H:%M"),
        }
    )
    for i, kpi in enumerate(preset.kpi_targets):
        values[f"kpi_metric_{i}"] = kpi.metric.value
        values[f"kpi_value_{i}"] = f"{kpi.target_value:g}"
    for ch in preset.channels:
        values[f"ch_{ch.channel.value}"] = "on"
        values[f"media_{ch.channel.value}"] = ch.media.value
        values[f"budget_{ch.channel.value}"] = "" if ch.budget is None else f"{ch.budget:g}"
    return values


def _payload(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    """The posted form as raw values (to show again) and as the API-shaped payload."""
    raw = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    payload: dict[str, Any] = {
        "name": raw.get("name", ""),
        "slug": raw.get("slug", "").strip().lower(),
        "description": raw.get("description", ""),
        "objective": raw.get("objective", ""),
        "audience": raw.get("audience", ""),
        # A checkbox: the form always shows the campaign's state, so an absent box is "off".
        "minors_gate": raw.get("minors_gate") == "on",
        "timezone": raw.get("timezone", ""),
        "starts_at": blank_to_none(raw.get("starts_at")),
        "ends_at": blank_to_none(raw.get("ends_at")),
        "kpi_targets": [],
        "channels": [],
    }
    if raw.get("languages_shown"):
        # Checkboxes too: none ticked is an error the form names (a campaign speaks one at
        # least). A post without the fieldset (an older form) leaves the languages as they are.
        payload["languages"] = [
            lang.value for lang in Language if raw.get(f"lang_{lang.value}") == "on"
        ]
        payload["default_language"] = raw.get("default_language") or Language.ZH_CN.value
    for i in range(KPI_ROWS):
        metric = blank_to_none(raw.get(f"kpi_metric_{i}"))
        if metric is None:
            continue
        payload["kpi_targets"].append(
            {
                "metric": metric,
                "target_value": blank_to_none(raw.get(f"kpi_value_{i}")),
                "deadline": blank_to_none(raw.get(f"kpi_deadline_{i}")),
            }
        )
    for channel in Channel:
        if raw.get(f"ch_{channel.value}"):
            payload["channels"].append(
                {
                    "channel": channel.value,
                    "media": raw.get(f"media_{channel.value}") or Media.OWNED.value,
                    "budget": blank_to_none(raw.get(f"budget_{channel.value}")),
                }
            )
    return payload, raw


def _remap_errors(errors: dict[str, str], payload: dict[str, Any]) -> dict[str, str]:
    """Point list-item errors at the form row they came from (kpi row i, channel name)."""
    out: dict[str, str] = {}
    for field, message in errors.items():
        parts = field.split(".")
        if parts[0] == "channels" and len(parts) > 1 and parts[1].isdigit():
            channel = payload["channels"][int(parts[1])]["channel"]
            out.setdefault(f"channel_{channel}", message)
        elif parts[0] == "kpi_targets" and len(parts) > 1 and parts[1].isdigit():
            out.setdefault(f"kpi_{parts[1]}", message)
        else:
            out.setdefault(parts[0], message)
    return out


def _form_page(
    request: Request,
    *,
    actor: Actor,
    campaign: CampaignRead | None,
    state: FormState,
) -> Response:
    shown = state.shown()
    return render(
        request,
        "campaigns/form.html",
        {
            **_vocabulary(),
            **shown,
            "campaign": campaign,
            "kpi_rows": KPI_ROWS,
            "preset": PRESETS_BY_KEY.get(str(shown["values"].get("template") or "")),
            "nav": "campaigns",
        },
        status_code=state.status_code,
    )


def _require_write(actor: Actor) -> None:
    """Fail before showing a form the user could not submit."""
    require(actor, Permission.WRITE_CAMPAIGNS)


# --- routes ---------------------------------------------------------------------------------


@router.get("")
def list_page(
    request: Request,
    actor: ConsoleActor,
    db: DbDep,
    status: Annotated[str | None, Query()] = None,
    objective: Annotated[str | None, Query()] = None,
    channel: Annotated[str | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=120)] = None,
    cursor: str | None = None,
) -> Response:
    chosen = {
        "status": status or "",
        "objective": objective or "",
        "channel": channel or "",
        "q": q or "",
    }
    try:
        filters = CampaignFilter(
            status=[CampaignStatus(status)] if status else [],
            objective=Objective(objective) if objective else None,
            channel=Channel(channel) if channel else None,
            q=q or None,
        )
    except ValueError:
        raise InvalidInput(_("Unknown filter value.")) from None
    page = read(db, service.list_campaigns, actor=actor, filters=filters, cursor=cursor)
    return render(
        request,
        "campaigns/list.html",
        {
            **_vocabulary(),
            "page": page,
            "chosen": chosen,
            "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
            "nav": "campaigns",
        },
    )


@router.get("/new")
def new_page(
    request: Request, actor: ConsoleActor, now: NowDep, template: str | None = None
) -> Response:
    _require_write(actor)
    if template is None:
        return render(
            request,
            "campaigns/templates.html",
            {**_vocabulary(), "presets": PRESETS, "nav": "campaigns"},
        )
    preset = PRESETS_BY_KEY.get(template)
    if template and preset is None:
        raise InvalidInput(_("Unknown campaign template."), field="template")
    return _form_page(
        request, actor=actor, campaign=None, state=FormState(_form_values_from_preset(preset, now))
    )


def _save_form(
    save: Callable[[], T],
    payload: dict[str, Any],
    *,
    values: dict[str, Any],
    again: ShowAgain,
    done: Callable[[T], Response],
) -> Response:
    """The campaign form's write: every error, on the field the form shows it at, and the
    service's refusals (403 included) shown on the form."""
    return save_or_show_again(
        save,
        again=again,
        done=done,
        values=values,
        invalid=lambda exc: _remap_errors(validation_errors(exc), payload),
        refused=lambda exc: _remap_errors(service_error(exc), payload),
        propagate=(),
    )


@router.post("")
def create(
    request: Request, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    _require_write(actor)
    payload, raw = _payload(form)
    template = blank_to_none(raw.get("template"))

    def save() -> CampaignRead:
        data = CampaignCreate.model_validate({**payload, "template": template})
        with db.transaction() as session:
            created = service.do_create_campaign(session, actor=actor, data=data, now=now)
            preset = PRESETS_BY_KEY.get(template or "")
            if preset is not None:
                # a template is a whole campaign: its activities come with it
                create_preset_activities(
                    session, actor=actor, campaign_id=created.id, preset=preset, now=now
                )
        return created

    return _save_form(
        save,
        payload,
        values=raw,
        again=partial(_form_page, request, actor=actor, campaign=None),
        done=lambda created: see_other(f"/console/w/{actor.workspace_slug}/campaigns/{created.id}"),
    )


def _detail(
    request: Request,
    db: DbDep,
    actor: Actor,
    campaign: CampaignRead,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    history: list[tuple[AuditRead, AuditLine]] = []
    if actor.can(Permission.READ_AUDIT):
        entries = read(db, list_audit, actor=actor, target=("campaign", campaign.id), limit=20)
        history = [(e, describe(e, zone=campaign.timezone)) for e in entries]
    return render(
        request,
        "campaigns/detail.html",
        {
            **_vocabulary(),
            "campaign": campaign,
            "history": history,
            "error": error,
            "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
            "nav": "campaigns",
        },
        status_code=status_code,
    )


@router.get("/{campaign_id}")
def detail(request: Request, campaign_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    campaign = read(db, service.get_campaign, actor=actor, campaign_id=campaign_id)
    return _detail(request, db, actor, campaign)


@router.get("/{campaign_id}/edit")
def edit_page(request: Request, campaign_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    _require_write(actor)
    campaign = read(db, service.get_campaign, actor=actor, campaign_id=campaign_id)
    return _form_page(
        request,
        actor=actor,
        campaign=campaign,
        state=FormState(_form_values_from_campaign(campaign)),
    )


@router.post("/{campaign_id}/edit")
def edit(
    request: Request,
    campaign_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    _require_write(actor)
    campaign = read(db, service.get_campaign, actor=actor, campaign_id=campaign_id)
    payload, raw = _payload(form)
    raw.setdefault("template", campaign.template_key or "")

    def save() -> None:
        data = CampaignUpdate.model_validate(payload)
        write(
            db, service.do_update_campaign, actor=actor, campaign_id=campaign_id, data=data, now=now
        )

    return _save_form(
        save,
        payload,
        values=raw,
        again=partial(_form_page, request, actor=actor, campaign=campaign),
        done=lambda _: see_other(f"/console/w/{actor.workspace_slug}/campaigns/{campaign_id}"),
    )


@router.post("/{campaign_id}/transition")
def transition(
    request: Request,
    campaign_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    try:
        to = CampaignStatus(str(form.get("status", "")))
    except ValueError:
        raise InvalidInput(_("Choose one of the options."), field="status") from None

    def act() -> None:
        write(
            db, service.do_transition_campaign, actor=actor, campaign_id=campaign_id, to=to, now=now
        )

    def again(exc: IM2Error) -> Response:
        campaign = read(db, service.get_campaign, actor=actor, campaign_id=campaign_id)
        return _detail(request, db, actor, campaign, error=exc.message, status_code=exc.status_code)

    return act_or_show_again(
        act, again=again, done=f"/console/w/{actor.workspace_slug}/campaigns/{campaign_id}"
    )


@router.post("/{campaign_id}/duplicate")
def duplicate(
    request: Request,
    campaign_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    created = write(
        db,
        service.do_duplicate_campaign,
        actor=actor,
        campaign_id=campaign_id,
        data=CampaignDuplicate(),
        now=now,
    )
    return RedirectResponse(
        f"/console/w/{actor.workspace_slug}/campaigns/{created.id}/edit", status_code=303
    )
