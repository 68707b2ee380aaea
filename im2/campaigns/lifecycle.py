"""A campaign's status: transitions by hand (draft -> scheduled -> live -> ended -> archived)
and the scheduler's, which starts and ends campaigns at their set times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from im2.campaigns.history import record_change
from im2.campaigns.models import Campaign
from im2.campaigns.reads import load_campaign, to_read
from im2.campaigns.schemas import (
    STATUS_LABELS,
    TRANSITIONS,
    CampaignRead,
    CampaignStatus,
)
from im2.errors import Conflict, InvalidInput
from im2.events.schemas import ActorType, EventKind
from im2.i18n import _
from im2.workspaces.schemas import Actor, Permission, Role
from im2.workspaces.service import require


def check_schedulable(
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
        check_schedulable(campaign.starts_at, campaign.ends_at, now, require_future_end=True)
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
    record_change(
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
    campaign = load_campaign(session, actor=actor, campaign_id=campaign_id, lock=True)
    _apply_transition(session, actor=actor, campaign=campaign, to=to, now=now, automatic=False)
    session.flush()
    return to_read(campaign)


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
