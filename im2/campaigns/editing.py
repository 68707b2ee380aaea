"""Creating, editing and duplicating campaigns: validate (slug, schedule, KPIs, channels,
languages, eligible segment), write, and record the audit entry and the event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.campaigns.history import record_change
from im2.campaigns.lifecycle import check_schedulable
from im2.campaigns.models import Campaign, CampaignChannel, CampaignKpiTarget
from im2.campaigns.presets import PRESETS_BY_KEY
from im2.campaigns.reads import languages_of, load_campaign, snapshot, to_read
from im2.campaigns.schemas import (
    EDITABLE_STATUSES,
    CampaignCreate,
    CampaignDuplicate,
    CampaignRead,
    CampaignStatus,
    CampaignUpdate,
    ChannelIn,
    KpiTargetIn,
    Language,
)
from im2.errors import Conflict, InvalidInput
from im2.events.schemas import EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import check_slug, check_timezone, require

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


def _check_languages(languages: list[Language], default: Language) -> None:
    if default not in languages:
        raise InvalidInput(
            _("The default language must be one of the campaign's languages."),
            field="default_language",
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
    record_change(
        session,
        actor=actor,
        campaign=campaign,
        kind=EventKind.CAMPAIGN_CREATED,
        action="campaign.create",
        summary=campaign.name,
        before=None,
        after=snapshot(campaign),
        now=now,
        properties={"objective": campaign.objective, "template": data.template},
    )
    return to_read(campaign)


def do_update_campaign(
    session: Session, *, actor: Actor, campaign_id: int, data: CampaignUpdate, now: datetime
) -> CampaignRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    campaign = load_campaign(session, actor=actor, campaign_id=campaign_id, lock=True)
    status = CampaignStatus(campaign.status)
    if status not in EDITABLE_STATUSES:
        raise Conflict(_("An ended or archived campaign can no longer be edited."))
    given = data.model_fields_set
    before = snapshot(campaign)
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
        check_schedulable(starts_at, ends_at, now, require_future_end=status != CampaignStatus.LIVE)
    if data.kpi_targets is not None:
        _check_kpis(data.kpi_targets)
    if data.channels is not None:
        _check_channels(data.channels)
    languages = data.languages if data.languages is not None else languages_of(campaign)
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
    after = snapshot(campaign)
    changed = sorted(k for k in after if after[k] != before.get(k))
    if changed:
        record_change(
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
    return to_read(campaign)


def do_duplicate_campaign(
    session: Session, *, actor: Actor, campaign_id: int, data: CampaignDuplicate, now: datetime
) -> CampaignRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    source = load_campaign(session, actor=actor, campaign_id=campaign_id)
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
            languages=languages_of(source),
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
