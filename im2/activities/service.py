"""Activity operations: the console side (create, edit, results, review, export) and the
participant side (see a poll, vote). Callers own the transaction; nothing here commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.activities.formats import poll
from im2.activities.models import Activity
from im2.activities.schemas import (
    ActivityKind,
    ActivityRead,
    PollCreate,
    PollResults,
    PollUpdate,
    ResultsVisibility,
    VoteReceipt,
)
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignRead, CampaignStatus
from im2.errors import Conflict, InvalidInput, NotFound
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.participation import service as participation
from im2.participation.schemas import Visitor
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

PUBLIC_STATUSES = frozenset(
    {CampaignStatus.SCHEDULED, CampaignStatus.LIVE, CampaignStatus.PAUSED, CampaignStatus.ENDED}
)


def results_channel(activity_id: int) -> str:
    return f"activity:{activity_id}:results"


def _read(row: Activity) -> ActivityRead:
    return ActivityRead.model_validate(row)


def _load(session: Session, *, actor: Actor, activity_id: int) -> Activity:
    row = session.get(Activity, activity_id)
    if row is None or row.workspace_id != actor.workspace_id:
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
    return [_read(row) for row in rows]


def get_activity(session: Session, *, actor: Actor, activity_id: int) -> ActivityRead:
    require(actor, Permission.READ_CAMPAIGNS)
    return _read(_load(session, actor=actor, activity_id=activity_id))


def do_create_poll(
    session: Session, *, actor: Actor, campaign_id: int, data: PollCreate, now: datetime
) -> ActivityRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    if campaign.status in (CampaignStatus.ENDED, CampaignStatus.ARCHIVED):
        raise Conflict(_("An ended or archived campaign can no longer be edited."))
    settings = poll.settings_from(data)
    position = len(list_activities(session, actor=actor, campaign_id=campaign_id))
    row = Activity(
        workspace_id=actor.workspace_id,
        campaign_id=campaign_id,
        kind=ActivityKind.POLL.value,
        title=data.title,
        description=data.description,
        position=position,
        settings=settings,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    poll.add_options(session, activity_id=row.id, options=data.options)
    session.flush()
    after = {**settings, "title": data.title, "options": [o.label for o in data.options]}
    _record_console_write(
        session,
        actor=actor,
        activity=row,
        kind=EventKind.ACTIVITY_CREATED,
        action="activity.create",
        before=None,
        after=after,
        now=now,
    )
    return _read(row)


def do_update_poll(
    session: Session, *, actor: Actor, activity_id: int, data: PollUpdate, now: datetime
) -> ActivityRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    row = _load(session, actor=actor, activity_id=activity_id)
    before = {"title": row.title, "description": row.description, **row.settings}
    if data.title is not None:
        row.title = data.title
    if data.description is not None:
        row.description = data.description
    if data.results is not None:
        row.settings = {**row.settings, "results": data.results.value}
    row.updated_at = now
    after = {"title": row.title, "description": row.description, **row.settings}
    changed = {k for k in after if after[k] != before.get(k)}
    if changed:
        _record_console_write(
            session,
            actor=actor,
            activity=row,
            kind=EventKind.ACTIVITY_UPDATED,
            action="activity.update",
            before={k: before.get(k) for k in changed},
            after={k: after[k] for k in changed},
            now=now,
        )
    return _read(row)


def _record_console_write(
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
        actor=actor,
        workspace_id=activity.workspace_id,
        action=action,
        target_type="activity",
        target_id=activity.id,
        summary=activity.title,
        before=before,
        after=after,
        now=now,
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


def poll_results(session: Session, *, actor: Actor, activity_id: int) -> PollResults:
    require(actor, Permission.READ_CAMPAIGNS)
    return poll.results(session, activity=_load(session, actor=actor, activity_id=activity_id))


def load_results(session: Session, *, activity_id: int) -> PollResults:
    """Results for the live channel (whoever may see them is decided where they are shown)."""
    row = session.get(Activity, activity_id)
    if row is None:
        raise NotFound(_("Activity {id} not found.").format(id=activity_id))
    return poll.results(session, activity=row)


@dataclass(frozen=True, slots=True)
class HeldBallot:
    id: int
    participant_id: int
    created_at: datetime
    options: list[str]
    reasons: str


def list_held(session: Session, *, actor: Actor, activity_id: int) -> list[HeldBallot]:
    require(actor, Permission.READ_CAMPAIGNS)
    row = _load(session, actor=actor, activity_id=activity_id)
    labels = {o.id: o.label for o in poll.options_of(session, activity_id=row.id)}
    return [
        HeldBallot(
            id=b.id,
            participant_id=b.participant_id,
            created_at=b.created_at,
            options=[labels.get(o, "?") for o in poll.choices_of(session, ballot_id=b.id)],
            reasons=b.risk_reasons or "",
        )
        for b in poll.held_ballots(session, activity_id=row.id)
    ]


def do_review_ballot(
    session: Session,
    *,
    actor: Actor,
    activity_id: int,
    ballot_id: int,
    approve: bool,
    now: datetime,
) -> None:
    require(actor, Permission.WRITE_CAMPAIGNS)
    row = _load(session, actor=actor, activity_id=activity_id)
    ballot = session.get(poll.PollBallot, ballot_id)
    if ballot is None or ballot.activity_id != row.id or not ballot.held:
        raise NotFound(_("No such vote waiting for review."))
    poll.release_ballot(session, ballot=ballot, approve=approve)
    record_audit(
        session,
        actor=actor,
        workspace_id=row.workspace_id,
        action="vote.approve" if approve else "vote.reject",
        target_type="ballot",
        target_id=ballot_id,
        summary=row.title,
        before={"held": True},
        after={"held": False} if approve else None,
        now=now,
    )


def export_poll(session: Session, *, actor: Actor, activity_id: int) -> list[dict[str, Any]]:
    require(actor, Permission.READ_CAMPAIGNS)
    row = _load(session, actor=actor, activity_id=activity_id)
    return list(poll.export_rows(session, activity_id=row.id))


# --- participants ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublicCampaign:
    campaign: CampaignRead
    workspace_id: int
    activities: list[ActivityRead]


def get_public_campaign(session: Session, *, slug: str) -> PublicCampaign:
    found = campaigns.get_public_campaign(session, slug=slug)
    if found is None or found.campaign.status not in PUBLIC_STATUSES:
        raise NotFound(_("There is no campaign at this address."))
    rows = session.scalars(
        select(Activity)
        .where(Activity.campaign_id == found.campaign.id)
        .order_by(Activity.position, Activity.id)
    )
    return PublicCampaign(
        campaign=found.campaign,
        workspace_id=found.workspace_id,
        activities=[_read(r) for r in rows],
    )


@dataclass(frozen=True, slots=True)
class PollView:
    """What one visitor sees of a poll."""

    campaign: CampaignRead
    activity: ActivityRead
    options: list[tuple[int, str, str | None]]
    open: bool
    closed_reason: str | None
    voted: bool
    can_vote: bool
    my_choices: list[int]
    results: PollResults | None
    participant_id: int | None


def closed_reason(campaign: CampaignRead) -> str | None:
    if campaign.status is CampaignStatus.LIVE:
        return None
    if campaign.status is CampaignStatus.SCHEDULED:
        return _("This campaign has not started yet.")
    if campaign.status is CampaignStatus.PAUSED:
        return _("This campaign is paused; please come back later.")
    return _("This campaign has ended. Thank you for taking part!")


def _public_activity(
    session: Session, *, slug: str, activity_id: int
) -> tuple[PublicCampaign, Activity]:
    public = get_public_campaign(session, slug=slug)
    row = session.get(Activity, activity_id)
    if row is None or row.campaign_id != public.campaign.id:
        raise NotFound(_("There is no such activity in this campaign."))
    return public, row


def results_visible(settings: dict[str, Any], *, campaign: CampaignRead, voted: bool) -> bool:
    visibility = settings.get("results", ResultsVisibility.AFTER_VOTE.value)
    if visibility == ResultsVisibility.LIVE.value:
        return True
    if visibility == ResultsVisibility.AFTER_VOTE.value:
        return voted or campaign.status is CampaignStatus.ENDED
    return campaign.status is CampaignStatus.ENDED


def _local_day(campaign: CampaignRead, now: datetime) -> str:
    return now.astimezone(ZoneInfo(campaign.timezone)).strftime("%Y-%m-%d")


def view_poll(
    session: Session, *, slug: str, activity_id: int, device_id: str, now: datetime
) -> PollView:
    public, row = _public_activity(session, slug=slug, activity_id=activity_id)
    participant = participation.get_participant(
        session, workspace_id=public.workspace_id, device_id=device_id
    )
    ballots = (
        poll.ballots_of(session, activity_id=row.id, participant_id=participant.id)
        if participant
        else []
    )
    voted = bool(ballots)
    my_choices = poll.choices_of(session, ballot_id=ballots[-1].id) if ballots else []
    reason = closed_reason(public.campaign)
    can_vote = reason is None and (
        not voted
        or (
            row.settings.get("vote_limit") == "daily"
            and len([b for b in ballots if b.day == _local_day(public.campaign, now)])
            < int(row.settings.get("votes_per_day", 1))
        )
    )
    visible = results_visible(row.settings, campaign=public.campaign, voted=voted)
    return PollView(
        campaign=public.campaign,
        activity=_read(row),
        options=[
            (o.id, o.label, o.image_url) for o in poll.options_of(session, activity_id=row.id)
        ],
        open=reason is None,
        closed_reason=reason,
        voted=voted,
        can_vote=can_vote,
        my_choices=my_choices,
        results=poll.results(session, activity=row) if visible else None,
        participant_id=participant.id if participant else None,
    )


def do_vote(
    session: Session,
    *,
    slug: str,
    activity_id: int,
    visitor: Visitor,
    option_ids: list[int],
    consented: bool,
    seconds_on_page: float | None,
    risk_threshold: float,
    identities_per_ip_hour: int,
    now: datetime,
) -> VoteReceipt:
    """Cast a ballot: the campaign must be live, the options this poll's, the person new to
    it (or within the day's allowance); suspicious ballots are kept but held from results."""
    public, row = _public_activity(session, slug=slug, activity_id=activity_id)
    reason = closed_reason(public.campaign)
    if reason is not None:
        raise Conflict(reason)
    if not option_ids:
        raise InvalidInput(_("Choose an option first."), field="options")
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
    held = risk.held(risk_threshold)
    ballot = poll.cast_ballot(
        session,
        activity=row,
        participant_id=participant.id,
        option_ids=option_ids,
        local_day=_local_day(public.campaign, now),
        held=held,
        risk_reasons=risk.reasons,
        now=now,
    )
    record_event(
        session,
        kind=EventKind.VOTE_CAST,
        occurred_at=now,
        workspace_id=public.workspace_id,
        campaign_id=public.campaign.id,
        activity_id=row.id,
        actor_type=ActorType.PARTICIPANT,
        actor_id=participant.id,
        channel=visitor.channel,
        referrer=visitor.referrer,
        properties={"options": sorted(set(option_ids)), "held": held, "risk": risk.score},
    )
    visible = results_visible(row.settings, campaign=public.campaign, voted=True)
    session.flush()
    return VoteReceipt(
        ballot_id=ballot.id,
        activity_id=row.id,
        options=sorted(set(option_ids)),
        held_for_review=held,
        results=poll.results(session, activity=row) if visible else None,
    )
