"""Reading campaigns: one (for a console user, or behind a public link), a page of them,
the languages a public campaign speaks, and the shapes the other operations return."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, or_, select
from sqlalchemy.orm import Session

from im2.campaigns.models import Campaign, CampaignChannel
from im2.campaigns.schemas import (
    LANGUAGE_LOCALES,
    TRANSITIONS,
    CampaignFilter,
    CampaignPage,
    CampaignRead,
    CampaignStatus,
    ChannelRead,
    KpiTargetRead,
    Language,
    Objective,
)
from im2.errors import NotFound
from im2.i18n import _
from im2.pagination import decode_cursor, encode_cursor
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import require


def to_read(campaign: Campaign) -> CampaignRead:
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
        languages=languages_of(campaign),
        default_language=Language(campaign.default_language),
        created_by=campaign.created_by,
        created_at=campaign.created_at,
        updated_at=campaign.updated_at,
        status_changed_at=campaign.status_changed_at,
        kpi_targets=[KpiTargetRead.model_validate(t) for t in campaign.kpi_targets],
        channels=[ChannelRead.model_validate(c) for c in campaign.channels],
        next_statuses=sorted(TRANSITIONS[status], key=list(CampaignStatus).index),
    )


def languages_of(campaign: Campaign) -> list[Language]:
    return [Language(tag) for tag in campaign.languages.split(",") if tag]


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


def snapshot(campaign: Campaign) -> dict[str, Any]:
    return to_read(campaign).model_dump(
        mode="json", exclude={"created_at", "updated_at", "next_statuses", "created_by"}
    )


def load_campaign(
    session: Session, *, actor: Actor, campaign_id: int, lock: bool = False
) -> Campaign:
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
    return to_read(load_campaign(session, actor=actor, campaign_id=campaign_id))


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
    return PublicCampaignRef(campaign=to_read(campaign), workspace_id=campaign.workspace_id)


def get_visible_campaign(session: Session, *, slug: str) -> PublicCampaignRef:
    """The campaign behind a public link as a visitor may see it: NotFound (404) when there is
    none, and while it is a draft or archived."""
    found = get_public_campaign(session, slug=slug)
    if found is None or found.campaign.status in (CampaignStatus.DRAFT, CampaignStatus.ARCHIVED):
        raise NotFound(_("There is no campaign at this address."))
    return found


def get_public_campaign_by_id(session: Session, *, campaign_id: int) -> PublicCampaignRef | None:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        return None
    return PublicCampaignRef(campaign=to_read(campaign), workspace_id=campaign.workspace_id)


class CampaignStamp(NamedTuple):
    """What a participant's action is judged by in the campaign row behind a public link: any
    change to the campaign's status, zone, schedule, eligibility or settings changes it (its
    edit and status times move with every write), so a cache of a campaign's public state keyed
    by it is never stale."""

    id: int
    workspace_id: int
    status: str
    timezone: str
    updated_at: datetime
    status_changed_at: datetime
    eligible_segment_id: int | None
    eligible_segment_version: int | None


_STAMPS = cast(Table, Campaign.__table__)
# Built once: the vote reads it in every batch, where building the statement cost more than
# running it.
_STAMP_BY_SLUG = select(*(_STAMPS.c[name] for name in CampaignStamp._fields)).where(
    _STAMPS.c.slug == bindparam("slug")
)


def get_public_campaign_stamp(session: Session, *, slug: str) -> CampaignStamp | None:
    """The stamp of the campaign behind a public link (None without one), in one indexed read of
    its row inside the caller's transaction, so an action judged after it sees the campaign as it
    is now (a campaign ended a moment ago refuses). A caller reads it before the activity's own
    rows (campaign, then activity, then its parts)."""
    row = session.connection().execute(_STAMP_BY_SLUG, {"slug": slug}).first()
    return None if row is None else CampaignStamp._make(row)


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
        items=[to_read(row) for row in rows],
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
    )
