"""What every activity format shares: the activity row, its campaign, the public lookups,
joining as a participant, and recording console writes. Format packages under `formats/` build
on these. Callers own the transaction; nothing here commits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.activities.models import Activity
from im2.activities.protocol import UpdateActivity
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignRead, CampaignStatus
from im2.errors import Conflict, NotFound
from im2.events.schemas import EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.participation import service as participation
from im2.participation.schemas import ParticipantRead, Risk, Visitor
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

PUBLIC_STATUSES = frozenset(
    {CampaignStatus.SCHEDULED, CampaignStatus.LIVE, CampaignStatus.PAUSED, CampaignStatus.ENDED}
)


def to_read(row: Activity) -> ActivityRead:
    return ActivityRead.model_validate(row)


def load_activity(
    session: Session, *, actor: Actor, activity_id: int, kind: ActivityKind | None = None
) -> Activity:
    """The activity row, if it is in the actor's workspace (and of `kind`, when given)."""
    row = session.get(Activity, activity_id)
    if row is None or row.workspace_id != actor.workspace_id or (kind and row.kind != kind):
        raise NotFound(_("Activity {id} not found.").format(id=activity_id))
    return row


def load_any_activity(session: Session, *, activity_id: int, kind: ActivityKind) -> Activity:
    """The activity row of `kind`, whichever workspace holds it: for the live channels, whose
    readers' right to see it is decided where it is shown."""
    row = session.get(Activity, activity_id)
    if row is None or row.kind != kind:
        raise NotFound(_("Activity {id} not found.").format(id=activity_id))
    return row


# --- console ----------------------------------------------------------------------------------


def list_activities(session: Session, *, actor: Actor, campaign_id: int) -> list[ActivityRead]:
    campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)  # 404 / 403 first
    rows = session.scalars(
        select(Activity)
        .where(Activity.campaign_id == campaign_id)
        .order_by(Activity.position, Activity.id)
    )
    return [to_read(row) for row in rows]


def get_activity(
    session: Session, *, actor: Actor, activity_id: int, kind: ActivityKind | None = None
) -> ActivityRead:
    require(actor, Permission.READ_CAMPAIGNS)
    return to_read(load_activity(session, actor=actor, activity_id=activity_id, kind=kind))


def create_activity_row(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int,
    kind: ActivityKind,
    title: str,
    description: str,
    settings: dict[str, Any],
    now: datetime,
) -> Activity:
    """The shared part of adding any format: checks, the row, its audit entry and event.
    The format then adds its own rows (options, questions, prizes …) under `row.id`."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    if campaign.status in (CampaignStatus.ENDED, CampaignStatus.ARCHIVED):
        raise Conflict(_("An ended or archived campaign can no longer be edited."))
    position = len(list_activities(session, actor=actor, campaign_id=campaign_id))
    row = Activity(
        workspace_id=actor.workspace_id,
        campaign_id=campaign_id,
        kind=kind.value,
        title=title,
        description=description,
        position=position,
        settings=settings,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    record_console_write(
        session,
        actor=actor,
        activity=row,
        kind=EventKind.ACTIVITY_CREATED,
        action="activity.create",
        before=None,
        after={"title": title, **settings},
        now=now,
    )
    return row


def do_update_activity(
    session: Session,
    *,
    actor: Actor,
    activity_id: int,
    kind: ActivityKind,
    title: str | None,
    description: str | None,
    settings: dict[str, Any] | None = None,
    now: datetime,
) -> ActivityRead:
    """Change an activity's texts and (already validated) settings; the audit entry and event
    record only what changed, and nothing is recorded when nothing did."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    row = load_activity(session, actor=actor, activity_id=activity_id, kind=kind)
    before = {"title": row.title, "description": row.description, **row.settings}
    if title is not None:
        row.title = title
    if description is not None:
        row.description = description
    if settings:
        row.settings = {**row.settings, **settings}
    after = {"title": row.title, "description": row.description, **row.settings}
    changed = sorted(k for k in after if after[k] != before.get(k))
    if changed:
        row.updated_at = now
        record_console_write(
            session,
            actor=actor,
            activity=row,
            kind=EventKind.ACTIVITY_UPDATED,
            action="activity.update",
            before={k: before.get(k) for k in changed},
            after={k: after[k] for k in changed},
            now=now,
        )
    return to_read(row)


def update_texts(
    kind: ActivityKind, settings: Callable[[Any], dict[str, Any] | None] | None = None
) -> UpdateActivity:
    """The edit of a format's title and description, and of the settings that `settings`
    reads from the update (None: none given, the stored ones are kept)."""

    def do_update(
        session: Session, *, actor: Actor, activity_id: int, data: Any, now: datetime
    ) -> ActivityRead:
        return do_update_activity(
            session,
            actor=actor,
            activity_id=activity_id,
            kind=kind,
            title=data.title,
            description=data.description,
            settings=settings(data) if settings is not None else None,
            now=now,
        )

    return do_update


def record_console_write(
    session: Session,
    *,
    actor: Actor,
    activity: Activity,
    kind: EventKind,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
) -> None:
    record_audit(
        session,
        actor,
        action,
        ("activity", activity.id),
        activity.title,
        now=now,
        before=before,
        after=after,
        workspace_id=activity.workspace_id,
    )
    record_event(
        session,
        kind=kind,
        occurred_at=now,
        workspace_id=activity.workspace_id,
        campaign_id=activity.campaign_id,
        activity_id=activity.id,
        actor_type=actor.type,
        actor_id=actor.id,
        properties={"kind": activity.kind},
    )


# --- participants ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublicCampaign:
    campaign: CampaignRead
    workspace_id: int
    activities: list[ActivityRead]


def get_public_campaign(
    session: Session, *, slug: str, with_activities: bool = True
) -> PublicCampaign:
    """The campaign behind /c/<slug> if the public may see it (404 for drafts and archives).
    `with_activities=False` skips listing its activities (participant writes don't need it)."""
    found = campaigns.get_public_campaign(session, slug=slug)
    if found is None or found.campaign.status not in PUBLIC_STATUSES:
        raise NotFound(_("There is no campaign at this address."))
    rows: list[Activity] = []
    if with_activities:
        rows = list(
            session.scalars(
                select(Activity)
                .where(Activity.campaign_id == found.campaign.id)
                .order_by(Activity.position, Activity.id)
            )
        )
    return PublicCampaign(
        campaign=found.campaign,
        workspace_id=found.workspace_id,
        activities=[to_read(r) for r in rows],
    )


def closed_reason(campaign: CampaignRead) -> str | None:
    """Why participants cannot act now, or None while the campaign is live."""
    if campaign.status is CampaignStatus.LIVE:
        return None
    if campaign.status is CampaignStatus.SCHEDULED:
        return _("This campaign has not started yet.")
    if campaign.status is CampaignStatus.PAUSED:
        return _("This campaign is paused; please come back later.")
    return _("This campaign has ended. Thank you for taking part!")


def public_activity(
    session: Session, *, slug: str, activity_id: int, kind: ActivityKind | None = None
) -> tuple[PublicCampaign, Activity]:
    public = get_public_campaign(session, slug=slug, with_activities=False)
    row = session.get(Activity, activity_id)
    if row is None or row.campaign_id != public.campaign.id or (kind and row.kind != kind):
        raise NotFound(_("There is no such activity in this campaign."))
    return public, row


def require_open(public: PublicCampaign) -> None:
    reason = closed_reason(public.campaign)
    if reason is not None:
        raise Conflict(reason)


def local_day(campaign: CampaignRead, now: datetime) -> str:
    """Today's date (YYYY-MM-DD) in the campaign's own time zone."""
    return now.astimezone(ZoneInfo(campaign.timezone)).strftime("%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class Acting:
    participant: ParticipantRead
    risk: Risk
    held: bool


def join_and_assess(
    session: Session,
    *,
    public: PublicCampaign,
    visitor: Visitor,
    consented: bool,
    seconds_on_page: float | None,
    risk_threshold: float,
    identities_per_ip_hour: int,
    now: datetime,
) -> Acting:
    """The participant behind this visitor (created with consent on a first action) and the
    risk of this action; a held action is kept but left out of results until reviewed."""
    participant = participation.do_join(
        session,
        workspace_id=public.workspace_id,
        campaign_id=public.campaign.id,
        visitor=visitor,
        consented=consented,
        now=now,
    )
    risk = participation.assess_risk(
        session,
        workspace_id=public.workspace_id,
        participant=participant,
        visitor=visitor,
        seconds_on_page=seconds_on_page,
        identities_per_ip_hour=identities_per_ip_hour,
        now=now,
    )
    return Acting(participant=participant, risk=risk, held=risk.held(risk_threshold))


def participant_for(
    session: Session, *, public: PublicCampaign, device_id: str
) -> ParticipantRead | None:
    return participation.get_participant(
        session, workspace_id=public.workspace_id, device_id=device_id
    )
