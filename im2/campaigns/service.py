"""Campaign operations: validate, write, record the event and the audit entry.

Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.campaigns.models import Campaign, CampaignChannel, CampaignKpiTarget
from im2.campaigns.presets import PRESETS_BY_KEY
from im2.campaigns.schemas import (
    EDITABLE_STATUSES,
    LANGUAGE_LOCALES,
    STATUS_LABELS,
    TRANSITIONS,
    CampaignCreate,
    CampaignDuplicate,
    CampaignFilter,
    CampaignPage,
    CampaignRead,
    CampaignStatus,
    CampaignUpdate,
    ChannelIn,
    ChannelRead,
    KpiTargetIn,
    KpiTargetRead,
    Language,
    Objective,
)
from im2.errors import Conflict, InvalidInput, NotFound
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.pagination import decode_cursor, encode_cursor
from im2.workspaces.schemas import Actor, Permission, Role
from im2.workspaces.service import check_slug, check_timezone, record_audit, require

# Checks a segment named as a campaign's eligibility and returns its current version: the
# segments live in people, a layer above, so `im2.app` registers
# `im2.people.segments.service.check_segment_version` (field `eligible_segment_id`).
SegmentCheck = Callable[[Session, int, int], int]
_segment_check: SegmentCheck | None = None


def use_segment_check(check: SegmentCheck) -> None:
    global _segment_check
    _segment_check = check


def _eligibility(session: Session, *, workspace_id: int, segment_id: int) -> int:
    if _segment_check is None:
        raise InvalidInput(_("Segments are not available here."), field="eligible_segment_id")
    return _segment_check(session, workspace_id, segment_id)


def _to_read(campaign: Campaign) -> CampaignRead:
    status = CampaignStatus(campaign.status)
    return CampaignRead(
        id=campaign.id,
        slug=campaign.slug,
        name=campaign.name,
        description=campaign.description,
        objective=Objective(campaign.objective),
        audience=campaign.audience,
        status=status,
        timezone=campaign.timezone,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        template_key=campaign.template_key,
        minors_gate=campaign.minors_gate,
        eligible_segment_id=campaign.eligible_segment_id,
        eligible_segment_version=campaign.eligible_segment_version,
        languages=_languages_of(campaign),
        default_language=Language(campaign.default_language),
        created_by=campaign.created_by,
        created_at=campaign.created_at,
        updated_at=campaign.updated_at,
        status_changed_at=campaign.status_changed_at,
        kpi_targets=[KpiTargetRead.model_validate(t) for t in campaign.kpi_targets],
        channels=[ChannelRead.model_validate(c) for c in campaign.channels],
        next_statuses=sorted(TRANSITIONS[status], key=list(CampaignStatus).index),
    )


def _languages_of(campaign: Campaign) -> list[Language]:
    return [Language(tag) for tag in campaign.languages.split(",") if tag]


def _check_languages(languages: list[Language], default: Language) -> None:
    if default not in languages:
        raise InvalidInput(
            _("The default language must be one of the campaign's languages."),
            field="default_language",
        )


def public_languages(session: Session, *, slug: str) -> tuple[str, tuple[str, ...]] | None:
    """The locales (im2.i18n) a public campaign's pages speak: its default and all it offers,
    or None when no campaign has this slug."""
    row = session.execute(
        select(Campaign.default_language, Campaign.languages).where(Campaign.slug == slug)
    ).first()
    if row is None:
        return None
    offered = tuple(LANGUAGE_LOCALES[Language(tag)] for tag in row.languages.split(",") if tag)
    return LANGUAGE_LOCALES[Language(row.default_language)], offered


def _snapshot(campaign: Campaign) -> dict[str, Any]:
    return _to_read(campaign).model_dump(
        mode="json", exclude={"created_at", "updated_at", "next_statuses", "created_by"}
    )


def _local_to_utc(value: datetime | None, timezone: str) -> datetime | None:
    """Naive times are wall-clock times in the campaign's zone; aware ones are kept as given."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=check_timezone(timezone))
    return value.astimezone(UTC)


def check_schedule(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise InvalidInput(_("The end must be after the start."), field="ends_at")


def _check_kpis(targets: list[KpiTargetIn]) -> None:
    seen: set[str] = set()
    for index, target in enumerate(targets):
        if target.metric in seen:
            raise InvalidInput(
                _("Each KPI can have only one target."), field=f"kpi_targets.{index}.metric"
            )
        seen.add(target.metric)


def _check_channels(channels: list[ChannelIn]) -> None:
    seen: set[str] = set()
    for index, channel in enumerate(channels):
        if channel.channel in seen:
            raise InvalidInput(
                _("Each channel can be listed only once."), field=f"channels.{index}.channel"
            )
        seen.add(channel.channel)


def _check_slug_free(session: Session, *, slug: str, except_id: int | None = None) -> None:
    query = select(Campaign.id).where(Campaign.slug == slug)
    if except_id is not None:
        query = query.where(Campaign.id != except_id)
    if session.scalar(query) is not None:
        raise Conflict(_("Another campaign already uses this slug; choose another."), field="slug")


def _flush_unique_slug(session: Session, campaign: Campaign) -> None:
    """Insert or update under a savepoint, so a concurrent writer that took the same slug after
    our check turns into the same 409 as the check itself (the unique index has the last word)."""
    try:
        with session.begin_nested():
            session.add(campaign)
            session.flush()
    except IntegrityError:
        raise Conflict(
            _("Another campaign already uses this slug; choose another."), field="slug"
        ) from None


def _kpi_rows(targets: list[KpiTargetIn], timezone: str) -> list[CampaignKpiTarget]:
    return [
        CampaignKpiTarget(
            metric=t.metric.value,
            target_value=t.target_value,
            deadline=_local_to_utc(t.deadline, timezone),
        )
        for t in targets
    ]


def _channel_rows(channels: list[ChannelIn]) -> list[CampaignChannel]:
    return [
        CampaignChannel(
            channel=c.channel.value, media=c.media.value, budget=c.budget, currency=c.currency
        )
        for c in channels
    ]


def _record(
    session: Session,
    *,
    actor: Actor,
    campaign: Campaign,
    kind: EventKind,
    action: str,
    summary: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
    properties: dict[str, Any] | None = None,
) -> None:
    record_audit(
        session,
        actor=actor,
        workspace_id=campaign.workspace_id,
        action=action,
        target_type="campaign",
        target_id=campaign.id,
        summary=summary,
        before=before,
        after=after,
        now=now,
    )
    record_event(
        session,
        kind=kind,
        occurred_at=now,
        workspace_id=campaign.workspace_id,
        campaign_id=campaign.id,
        actor_type=actor.type,
        actor_id=actor.id,
        properties=properties or {},
    )


def do_create_campaign(
    session: Session, *, actor: Actor, data: CampaignCreate, now: datetime
) -> CampaignRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    check_slug(data.slug)
    check_timezone(data.timezone)
    if data.template is not None and data.template not in PRESETS_BY_KEY:
        raise InvalidInput(_("Unknown campaign template."), field="template")
    starts_at = _local_to_utc(data.starts_at, data.timezone)
    ends_at = _local_to_utc(data.ends_at, data.timezone)
    check_schedule(starts_at, ends_at)
    _check_kpis(data.kpi_targets)
    _check_channels(data.channels)
    _check_languages(data.languages, data.default_language)
    _check_slug_free(session, slug=data.slug)
    campaign = Campaign(
        workspace_id=actor.workspace_id,
        slug=data.slug,
        name=data.name,
        description=data.description,
        objective=data.objective.value,
        audience=data.audience,
        status=CampaignStatus.DRAFT.value,
        timezone=data.timezone,
        starts_at=starts_at,
        ends_at=ends_at,
        template_key=data.template,
        minors_gate=data.minors_gate,
        languages=",".join(data.languages),
        default_language=data.default_language.value,
        eligible_segment_id=data.eligible_segment_id,
        eligible_segment_version=(
            None
            if data.eligible_segment_id is None
            else _eligibility(
                session, workspace_id=actor.workspace_id, segment_id=data.eligible_segment_id
            )
        ),
        created_by=actor.label,
        created_at=now,
        updated_at=now,
        status_changed_at=now,
        kpi_targets=_kpi_rows(data.kpi_targets, data.timezone),
        channels=_channel_rows(data.channels),
    )
    _flush_unique_slug(session, campaign)
    _record(
        session,
        actor=actor,
        campaign=campaign,
        kind=EventKind.CAMPAIGN_CREATED,
        action="campaign.create",
        summary=campaign.name,
        before=None,
        after=_snapshot(campaign),
        now=now,
        properties={"objective": campaign.objective, "template": data.template},
    )
    return _to_read(campaign)


def _load(session: Session, *, actor: Actor, campaign_id: int, lock: bool = False) -> Campaign:
    query = select(Campaign).where(
        Campaign.id == campaign_id, Campaign.workspace_id == actor.workspace_id
    )
    if lock:
        query = query.with_for_update()
    campaign = session.scalar(query)
    if campaign is None:
        raise NotFound(_("Campaign {id} not found.").format(id=campaign_id))
    return campaign


def get_campaign(session: Session, *, actor: Actor, campaign_id: int) -> CampaignRead:
    require(actor, Permission.READ_CAMPAIGNS)
    return _to_read(_load(session, actor=actor, campaign_id=campaign_id))


@dataclass(frozen=True, slots=True)
class PublicCampaignRef:
    campaign: CampaignRead
    workspace_id: int


def get_public_campaign(session: Session, *, slug: str) -> PublicCampaignRef | None:
    """The campaign behind a public link, whichever workspace it belongs to (no actor: the
    caller decides what a visitor may see of it)."""
    campaign = session.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        return None
    return PublicCampaignRef(campaign=_to_read(campaign), workspace_id=campaign.workspace_id)


def get_public_campaign_by_id(session: Session, *, campaign_id: int) -> PublicCampaignRef | None:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        return None
    return PublicCampaignRef(campaign=_to_read(campaign), workspace_id=campaign.workspace_id)


def list_campaigns(
    session: Session,
    *,
    actor: Actor,
    filters: CampaignFilter,
    cursor: str | None = None,
    limit: int = 20,
) -> CampaignPage:
    require(actor, Permission.READ_CAMPAIGNS)
    query = select(Campaign).where(Campaign.workspace_id == actor.workspace_id)
    if filters.status:
        query = query.where(Campaign.status.in_([s.value for s in filters.status]))
    elif not filters.include_archived:
        query = query.where(Campaign.status != CampaignStatus.ARCHIVED.value)
    if filters.objective is not None:
        query = query.where(Campaign.objective == filters.objective.value)
    if filters.channel is not None:
        query = query.where(
            Campaign.id.in_(
                select(CampaignChannel.campaign_id).where(
                    CampaignChannel.channel == filters.channel.value
                )
            )
        )
    if filters.q:
        pattern = "%" + filters.q.strip().replace("%", r"\%").replace("_", r"\_") + "%"
        query = query.where(
            or_(
                Campaign.name.ilike(pattern, escape="\\"), Campaign.slug.ilike(pattern, escape="\\")
            )
        )
    after_id = decode_cursor(cursor)
    if after_id is not None:
        query = query.where(Campaign.id < after_id)
    rows = list(session.scalars(query.order_by(Campaign.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return CampaignPage(
        items=[_to_read(row) for row in rows],
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
    )


def do_update_campaign(
    session: Session, *, actor: Actor, campaign_id: int, data: CampaignUpdate, now: datetime
) -> CampaignRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    campaign = _load(session, actor=actor, campaign_id=campaign_id, lock=True)
    status = CampaignStatus(campaign.status)
    if status not in EDITABLE_STATUSES:
        raise Conflict(_("An ended or archived campaign can no longer be edited."))
    given = data.model_fields_set
    before = _snapshot(campaign)
    timezone = data.timezone if data.timezone is not None else campaign.timezone
    check_timezone(timezone)
    if data.slug is not None and data.slug != campaign.slug:
        if status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
            raise Conflict(
                _("The slug is in shared links once a campaign is live; it cannot change."),
                field="slug",
            )
        check_slug(data.slug)
        _check_slug_free(session, slug=data.slug, except_id=campaign.id)
    starts_at = (
        _local_to_utc(data.starts_at, timezone) if "starts_at" in given else campaign.starts_at
    )
    ends_at = _local_to_utc(data.ends_at, timezone) if "ends_at" in given else campaign.ends_at
    check_schedule(starts_at, ends_at)
    if status is not CampaignStatus.DRAFT:
        _check_schedulable(
            starts_at, ends_at, now, require_future_end=status != CampaignStatus.LIVE
        )
    if data.kpi_targets is not None:
        _check_kpis(data.kpi_targets)
    if data.channels is not None:
        _check_channels(data.channels)
    languages = data.languages if data.languages is not None else _languages_of(campaign)
    default_language = (
        data.default_language
        if data.default_language is not None
        else Language(campaign.default_language)
    )
    _check_languages(languages, default_language)
    campaign.languages = ",".join(languages)
    campaign.default_language = default_language.value

    for field in ("name", "slug", "description", "audience", "timezone", "minors_gate"):
        value = getattr(data, field)
        if value is not None:
            setattr(campaign, field, value)
    if "eligible_segment_id" in given:
        segment_id = data.eligible_segment_id
        campaign.eligible_segment_version = (
            None
            if segment_id is None
            else _eligibility(session, workspace_id=campaign.workspace_id, segment_id=segment_id)
        )
        campaign.eligible_segment_id = segment_id
    if data.objective is not None:
        campaign.objective = data.objective.value
    campaign.starts_at = starts_at
    campaign.ends_at = ends_at
    if data.kpi_targets is not None:
        campaign.kpi_targets.clear()
        session.flush()  # the unique (campaign, metric) must be free before new rows go in
        campaign.kpi_targets.extend(_kpi_rows(data.kpi_targets, timezone))
    if data.channels is not None:
        campaign.channels.clear()
        session.flush()
        campaign.channels.extend(_channel_rows(data.channels))
    campaign.updated_at = now
    _flush_unique_slug(session, campaign)
    after = _snapshot(campaign)
    changed = sorted(k for k in after if after[k] != before.get(k))
    if changed:
        _record(
            session,
            actor=actor,
            campaign=campaign,
            kind=EventKind.CAMPAIGN_UPDATED,
            action="campaign.update",
            summary=", ".join(changed),
            before={k: before.get(k) for k in changed},
            after={k: after[k] for k in changed},
            now=now,
            properties={"fields": changed},
        )
    return _to_read(campaign)


def _check_schedulable(
    starts_at: datetime | None, ends_at: datetime | None, now: datetime, *, require_future_end: bool
) -> None:
    if starts_at is None:
        raise InvalidInput(_("Set a start time before scheduling."), field="starts_at")
    if ends_at is None:
        raise InvalidInput(_("Set an end time before scheduling."), field="ends_at")
    if require_future_end and ends_at <= now:
        raise InvalidInput(_("The end time has already passed."), field="ends_at")


@dataclass(frozen=True, slots=True)
class StatusChange:
    campaign_id: int
    workspace_id: int
    old: CampaignStatus
    new: CampaignStatus


def _apply_transition(
    session: Session,
    *,
    actor: Actor,
    campaign: Campaign,
    to: CampaignStatus,
    now: datetime,
    automatic: bool,
) -> StatusChange:
    old = CampaignStatus(campaign.status)
    if to not in TRANSITIONS[old]:
        raise Conflict(
            _("A campaign cannot go from {old} to {new}.").format(
                old=_(STATUS_LABELS[old]), new=_(STATUS_LABELS[to])
            ),
            field="status",
        )
    if to is CampaignStatus.SCHEDULED:
        _check_schedulable(campaign.starts_at, campaign.ends_at, now, require_future_end=True)
    before = {"status": old.value, "starts_at": campaign.starts_at, "ends_at": campaign.ends_at}
    started_early = campaign.starts_at is None or campaign.starts_at > now
    if to is CampaignStatus.LIVE and old is CampaignStatus.SCHEDULED and started_early:
        campaign.starts_at = now  # started early by hand: the record shows when it really began
    if to is CampaignStatus.ENDED and (campaign.ends_at is None or campaign.ends_at > now):
        campaign.ends_at = now
    campaign.status = to.value
    campaign.status_changed_at = now
    campaign.updated_at = now
    after = {"status": to.value, "starts_at": campaign.starts_at, "ends_at": campaign.ends_at}
    _record(
        session,
        actor=actor,
        campaign=campaign,
        kind=EventKind.CAMPAIGN_STATUS_CHANGED,
        action="campaign.status",
        summary=f"{old.value} → {to.value}",
        before={k: v.isoformat() if isinstance(v, datetime) else v for k, v in before.items()},
        after={k: v.isoformat() if isinstance(v, datetime) else v for k, v in after.items()},
        now=now,
        properties={"from": old.value, "to": to.value, "automatic": automatic},
    )
    return StatusChange(campaign.id, campaign.workspace_id, old, to)


def do_transition_campaign(
    session: Session, *, actor: Actor, campaign_id: int, to: CampaignStatus, now: datetime
) -> CampaignRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    campaign = _load(session, actor=actor, campaign_id=campaign_id, lock=True)
    _apply_transition(session, actor=actor, campaign=campaign, to=to, now=now, automatic=False)
    session.flush()
    return _to_read(campaign)


def do_duplicate_campaign(
    session: Session, *, actor: Actor, campaign_id: int, data: CampaignDuplicate, now: datetime
) -> CampaignRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    source = _load(session, actor=actor, campaign_id=campaign_id)
    slug = data.slug or _free_copy_slug(session, slug=source.slug)
    copy_suffix = _(" (copy)")
    name = data.name or (source.name[: 120 - len(copy_suffix)] + copy_suffix)
    created = do_create_campaign(
        session,
        actor=actor,
        data=CampaignCreate(
            name=name,
            slug=slug,
            description=source.description,
            objective=source.objective,
            audience=source.audience,
            timezone=source.timezone,
            starts_at=source.starts_at,
            ends_at=source.ends_at,
            kpi_targets=[
                KpiTargetIn(metric=t.metric, target_value=t.target_value, deadline=t.deadline)
                for t in source.kpi_targets
            ],
            channels=[
                ChannelIn(channel=c.channel, media=c.media, budget=c.budget, currency=c.currency)
                for c in source.channels
            ],
            template=source.template_key,
            minors_gate=source.minors_gate,
            eligible_segment_id=source.eligible_segment_id,
            languages=_languages_of(source),
            default_language=Language(source.default_language),
        ),
        now=now,
    )
    record_event(
        session,
        kind=EventKind.CAMPAIGN_DUPLICATED,
        occurred_at=now,
        workspace_id=actor.workspace_id,
        campaign_id=created.id,
        actor_type=actor.type,
        actor_id=actor.id,
        properties={"source_campaign_id": source.id},
    )
    return created


def _free_copy_slug(session: Session, *, slug: str) -> str:
    base = slug[:58]
    taken = set(
        session.scalars(select(Campaign.slug).where(Campaign.slug.startswith(base + "-copy")))
    )
    candidate, n = f"{base}-copy", 2
    while candidate in taken:
        candidate, n = f"{base}-copy{n}", n + 1
    return candidate


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        (Campaign.status == CampaignStatus.SCHEDULED.value) & (Campaign.starts_at <= now),
        Campaign.status.in_([CampaignStatus.LIVE.value, CampaignStatus.PAUSED.value])
        & (Campaign.ends_at <= now),
    )


def due_campaign_ids(session: Session, *, now: datetime) -> list[int]:
    """The campaigns, in every workspace, that the scheduler should start or end at `now`."""
    return list(session.scalars(select(Campaign.id).where(_due(now)).order_by(Campaign.id)))


def do_advance_campaign(session: Session, *, campaign_id: int, now: datetime) -> list[StatusChange]:
    """Start one scheduled campaign whose start has come, or end it (or a running one) when its
    end has passed; nothing when it is no longer due. Idempotent. The row is locked
    (PostgreSQL; another runner holding it skips it) or the write transaction is exclusive
    (SQLite), so it never races a manual transition."""
    campaign = session.scalars(
        select(Campaign)
        .where(Campaign.id == campaign_id, _due(now))
        .with_for_update(skip_locked=True)
    ).first()
    if campaign is None:
        return []
    actor = Actor(
        type=ActorType.SYSTEM,
        id=None,
        label="scheduler",
        workspace_id=campaign.workspace_id,
        workspace_slug="",
        role=Role.OWNER,
    )
    changes: list[StatusChange] = []
    if campaign.status == CampaignStatus.SCHEDULED.value:
        changes.append(
            _apply_transition(
                session,
                actor=actor,
                campaign=campaign,
                to=CampaignStatus.LIVE,
                now=now,
                automatic=True,
            )
        )
    if campaign.ends_at is not None and campaign.ends_at <= now:
        changes.append(
            _apply_transition(
                session,
                actor=actor,
                campaign=campaign,
                to=CampaignStatus.ENDED,
                now=now,
                automatic=True,
            )
        )
    session.flush()
    return changes


def do_advance_campaigns(session: Session, *, now: datetime) -> list[StatusChange]:
    """`do_advance_campaign` for every due campaign, in the caller's transaction (the demo and
    tests; the scheduler's job gives each campaign a transaction of its own)."""
    return [
        change
        for campaign_id in due_campaign_ids(session, now=now)
        for change in do_advance_campaign(session, campaign_id=campaign_id, now=now)
    ]


def live_campaign_zones(session: Session, *, limit: int) -> list[tuple[int, str]]:
    """The live campaigns' (id, time zone), the most recently gone live first, across every
    workspace: for background work that serves them all (keeping dashboards warm)."""
    rows = session.execute(
        select(Campaign.id, Campaign.timezone)
        .where(Campaign.status == CampaignStatus.LIVE.value)
        .order_by(Campaign.status_changed_at.desc(), Campaign.id.desc())
        .limit(limit)
    )
    return [(int(campaign_id), str(timezone)) for campaign_id, timezone in rows]
