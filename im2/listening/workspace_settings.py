"""Listening's workspace settings (sentiment, languages, delivery) and the column mappings of
mention imports (the presets and the workspace's own).

Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.errors import InvalidInput, NotFound
from im2.i18n import _
from im2.listening.formats import (
    PRESETS,
    PRESETS_BY_KEY,
    ColumnSpec,
    MentionField,
    spec_from_json,
)
from im2.listening.models import (
    ColumnMapping,
    ListeningSettings,
)
from im2.listening.reach import check_delivery, private_networks_allowed
from im2.listening.schemas import (
    ColumnMappingRead,
    ListeningSettingsIn,
    ListeningSettingsRead,
)
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import check_timezone, get_workspace_by_id, record_audit, require

# --- settings -------------------------------------------------------------------------------


def load_settings(session: Session, *, workspace_id: int) -> ListeningSettingsRead:
    row = session.get(ListeningSettings, workspace_id)
    if row is None:
        return ListeningSettingsRead()
    return ListeningSettingsRead.model_validate(
        {
            "webhook_url": row.webhook_url,
            "alert_emails": row.alert_emails,
            "crisis_contacts": row.crisis_contacts,
            "crisis_steps": row.crisis_steps,
            "vip_followers": row.vip_followers,
            "inbox_keywords": row.inbox_keywords,
            "escalation_ladder": row.escalation_ladder
            or ListeningSettingsIn().model_dump()["escalation_ladder"],
            "smtp_host": row.smtp_host,
            "smtp_port": row.smtp_port,
            "smtp_sender": row.smtp_sender,
        }
    )


def get_settings(session: Session, *, actor: Actor) -> ListeningSettingsRead:
    require(actor, Permission.READ_CAMPAIGNS)
    return load_settings(session, workspace_id=actor.workspace_id)


def do_update_settings(
    session: Session,
    *,
    actor: Actor,
    data: ListeningSettingsIn,
    now: datetime,
    private_networks: bool | None = None,
) -> ListeningSettingsRead:
    """Save the settings. A webhook or mail server that is not on the public internet is
    refused unless `private_networks` (default: the settings' choice)."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    data = check_delivery(data, private_networks=private_networks_allowed(private_networks))
    before = load_settings(session, workspace_id=actor.workspace_id).model_dump(mode="json")
    values = data.model_dump(mode="json")
    row = session.get(ListeningSettings, actor.workspace_id)
    if row is None:
        row = ListeningSettings(workspace_id=actor.workspace_id, updated_at=now)
        session.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_at = now
    session.flush()
    record_audit(
        session,
        actor,
        "listening.settings",
        ("listening_settings", None),
        _("Listening settings changed"),
        now=now,
        before=before,
        after=values,
    )
    return load_settings(session, workspace_id=actor.workspace_id)


# --- mappings -------------------------------------------------------------------------------


def list_mappings(session: Session, *, actor: Actor) -> list[tuple[str, str]]:
    """(key, title) of the ready mappings, then the workspace's saved ones."""
    require(actor, Permission.READ_CAMPAIGNS)
    saved = session.scalars(
        select(ColumnMapping.name)
        .where(ColumnMapping.workspace_id == actor.workspace_id)
        .order_by(ColumnMapping.name)
    )
    return [(p.key, p.title) for p in PRESETS] + [(name, name) for name in saved]


def _mapping_read(spec: ColumnSpec, *, preset: bool) -> ColumnMappingRead:
    data = spec.to_json()
    return ColumnMappingRead(
        name=spec.key,
        title=_(spec.title) if preset else spec.key,
        preset=preset,
        platform=data["platform"],
        columns={f.value: data["columns"][f.value] for f in MentionField if f in data["columns"]},
        required=data["required"],
        timezone=data["timezone"],
    )


def list_saved_mappings(session: Session, *, actor: Actor) -> list[ColumnMappingRead]:
    """The workspace's saved mappings, by name."""
    require(actor, Permission.READ_CAMPAIGNS)
    rows = session.execute(
        select(ColumnMapping.name, ColumnMapping.spec)
        .where(ColumnMapping.workspace_id == actor.workspace_id)
        .order_by(ColumnMapping.name)
    )
    return [_mapping_read(spec_from_json(name, spec), preset=False) for name, spec in rows]


def list_mapping_details(session: Session, *, actor: Actor) -> list[ColumnMappingRead]:
    """Every mapping an import can name: the ready ones, then the workspace's saved ones."""
    presets = [_mapping_read(p, preset=True) for p in PRESETS]
    return presets + list_saved_mappings(session, actor=actor)


def get_mapping(session: Session, *, actor: Actor, name: str) -> ColumnMappingRead:
    """A ready or saved mapping by name; NotFound when there is none."""
    require(actor, Permission.READ_CAMPAIGNS)
    if name in PRESETS_BY_KEY:
        return _mapping_read(PRESETS_BY_KEY[name], preset=True)
    saved = _saved_mapping(session, workspace_id=actor.workspace_id, name=name)
    if saved is None:
        raise NotFound(_("Column mapping not found."))
    return _mapping_read(spec_from_json(saved.name, saved.spec), preset=False)


def _saved_mapping(session: Session, *, workspace_id: int, name: str) -> ColumnMapping | None:
    return session.scalar(
        select(ColumnMapping).where(
            ColumnMapping.workspace_id == workspace_id, ColumnMapping.name == name
        )
    )


def do_save_mapping(
    session: Session, *, actor: Actor, name: str, spec: dict[str, Any], now: datetime
) -> ColumnMappingRead:
    """Save a mapping under `name`, replacing the workspace's mapping of that name."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    name = name.strip()
    if not name or len(name) > 64 or name in PRESETS_BY_KEY:
        raise InvalidInput(_("Choose another name for the mapping."), field="name")
    if spec.get("timezone"):
        check_timezone(str(spec["timezone"]))
    try:
        checked = spec_from_json(name, spec).to_json()
    except ValueError as exc:
        raise InvalidInput(
            _("The mapping is not valid: {reason}").format(reason=exc), field="spec"
        ) from None
    row = _saved_mapping(session, workspace_id=actor.workspace_id, name=name)
    before = dict(row.spec) if row is not None else None
    if row is None:
        row = ColumnMapping(
            workspace_id=actor.workspace_id, name=name, spec=checked, created_at=now
        )
        session.add(row)
    else:
        row.spec = checked
    session.flush()
    record_audit(
        session,
        actor,
        "listening.mapping",
        ("column_mapping", row.id),
        _("Column mapping “{name}” saved").format(name=name),
        now=now,
        before=before,
        after=checked,
    )
    return _mapping_read(spec_from_json(name, checked), preset=False)


def do_delete_mapping(session: Session, *, actor: Actor, name: str, now: datetime) -> None:
    """Delete a saved mapping; past import reports keep its name."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    if name in PRESETS_BY_KEY:
        raise InvalidInput(_("Mappings that come with IM2 cannot be deleted."), field="name")
    row = _saved_mapping(session, workspace_id=actor.workspace_id, name=name)
    if row is None:
        raise NotFound(_("Column mapping not found."))
    record_audit(
        session,
        actor,
        "listening.mapping.delete",
        ("column_mapping", row.id),
        _("Column mapping “{name}” deleted").format(name=name),
        now=now,
        before=dict(row.spec),
    )
    session.delete(row)
    session.flush()


def workspace_timezone(session: Session, *, actor: Actor) -> str:
    """The zone an import reads times without an offset in when neither the importer nor
    the mapping names one."""
    return get_workspace_by_id(session, workspace_id=actor.workspace_id).timezone


def mapping_spec(session: Session, *, workspace_id: int, key: str) -> ColumnSpec:
    if key in PRESETS_BY_KEY:
        return PRESETS_BY_KEY[key]
    saved = session.scalar(
        select(ColumnMapping.spec).where(
            ColumnMapping.workspace_id == workspace_id, ColumnMapping.name == key
        )
    )
    if saved is None:
        raise InvalidInput(_("Unknown column mapping."), field="mapping")
    return spec_from_json(key, saved)
