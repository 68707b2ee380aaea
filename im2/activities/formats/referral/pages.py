"""Console pages of referral activities: the editor (rewards, milestones, levels ≤ 2, the
qualifying action), the results with held invites and their evidence, the leaderboard, and the
CSV export."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from im2.activities import service as activities
from im2.activities.editing import activity_and_campaign, activity_context, activity_url
from im2.activities.formats.referral import reads, service
from im2.activities.formats.referral.schemas import (
    MAX_LEVELS,
    QUALIFY_LABELS,
    REASON_LABELS,
    STATUS_LABELS,
    InviteStatus,
    QualifyOn,
    ReferralCreate,
    ReferralSettings,
    ReferralUpdate,
)
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CHANNEL_LABELS, CampaignRead
from im2.db import Database
from im2.incentives import service as incentives
from im2.incentives.schemas import EVENT_LABELS
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.forms import (
    FormState,
    field_errors,
    first_field,
    raw_values,
    save_or_show_again,
    see_other,
    service_error,
)
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import require

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)
REWARD_ROLES = ("inviter", "invitee", "level2")
MILESTONE_ROWS = 5


def _reward_in(raw: dict[str, str], prefix: str) -> dict[str, Any] | None:
    kind = raw.get(f"{prefix}_kind", "").strip()
    if not kind:
        return None
    reward: dict[str, Any] = {"kind": kind}
    field = {"points": "points", "coupon": "pool_id", "prize": "prize_id"}.get(kind)
    source = {"points": "points", "coupon": "pool", "prize": "prize"}.get(kind)
    if field and source:
        value = raw.get(f"{prefix}_{source}", "").strip()
        reward[field] = value or None
    return reward


def payload(raw: dict[str, str]) -> dict[str, Any]:
    """The form's fields as the API's body (blank optional parts left out)."""
    data: dict[str, Any] = {
        "title": raw.get("title", ""),
        "description": raw.get("description", ""),
        "qualify_on": raw.get("qualify_on", ""),
        "levels": raw.get("levels", "").strip() or "1",
        "burst_minutes": raw.get("burst_minutes", "").strip() or "10",
        "burst_max": raw.get("burst_max", "").strip() or "5",
    }
    for role in REWARD_ROLES:
        data[f"{role}_reward"] = _reward_in(raw, role)
    milestones = []
    for i in range(MILESTONE_ROWS):
        friends = raw.get(f"m{i}_friends", "").strip()
        if not friends:
            continue
        milestones.append({"friends": friends, "reward": _reward_in(raw, f"m{i}") or {}})
    data["milestones"] = milestones
    return data


def _values_of(rules: ReferralSettings, activity: ActivityRead | None = None) -> dict[str, str]:
    values: dict[str, str] = {
        "qualify_on": rules.qualify_on.value,
        "levels": str(rules.levels),
        "burst_minutes": str(rules.burst_minutes),
        "burst_max": str(rules.burst_max),
    }
    if activity is not None:
        values["title"] = activity.title
        values["description"] = activity.description
    rewards = {
        "inviter": rules.inviter_reward,
        "invitee": rules.invitee_reward,
        "level2": rules.level2_reward,
    }
    rewards.update({f"m{i}": m.reward for i, m in enumerate(rules.milestones)})
    for prefix, reward in rewards.items():
        if reward is None:
            continue
        values[f"{prefix}_kind"] = reward.kind
        values[f"{prefix}_points"] = str(reward.points or "")
        values[f"{prefix}_pool"] = str(reward.pool_id or "")
        values[f"{prefix}_prize"] = str(reward.prize_id or "")
    for i, m in enumerate(rules.milestones):
        values[f"m{i}_friends"] = str(m.friends)
    return values


def _form(
    request: Request,
    *,
    actor: Actor,
    campaign: CampaignRead,
    activity: ActivityRead | None = None,
    db: Database,
    state: FormState,
) -> Response:
    with db.session() as session:
        pools = incentives.list_pools(
            session, workspace_id=actor.workspace_id, campaign_id=campaign.id
        )
        prizes = incentives.list_prizes(
            session, workspace_id=actor.workspace_id, campaign_id=campaign.id
        )
    base = f"/console/w/{actor.workspace_slug}"
    action = f"{base}/campaigns/{campaign.id}/referral"
    if activity is not None:
        action = f"{base}/referral/{activity.id}/edit"
    return render(
        request,
        "activities/referral/referral_form.html",
        {
            "campaign": campaign,
            "activity": activity,
            **state.shown(),
            "pools": pools,
            "prizes": prizes,
            "qualify_labels": QUALIFY_LABELS,
            "max_levels": MAX_LEVELS,
            "milestone_rows": range(MILESTONE_ROWS),
            "action": action,
            "nav": "campaigns",
        },
        status_code=state.status_code,
    )


def _campaign(db: Database, actor: Actor, campaign_id: int) -> CampaignRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    with db.session() as session:
        return campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)


def _referral(db: Database, actor: Actor, activity_id: int) -> tuple[ActivityRead, CampaignRead]:
    """The referral of the actor's workspace to edit, and its campaign (404 otherwise)."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    with db.session() as session:
        activity = activities.to_read(
            activities.load_activity(
                session, actor=actor, activity_id=activity_id, kind=ActivityKind.REFERRAL
            )
        )
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=activity.campaign_id)
    return activity, campaign


def _submit(
    request: Request,
    *,
    form: CsrfForm,
    actor: Actor,
    db: Database,
    now: datetime,
    campaign: CampaignRead,
    activity: ActivityRead | None,
) -> Response:
    """Create (no `activity`) or edit; errors on the form field they belong to (a reward's
    points on the reward, a milestone's friends on the milestones)."""
    raw = raw_values(form)

    def save() -> ActivityRead:
        if activity is None:
            created = ReferralCreate.model_validate(payload(raw))
            with db.transaction() as session:
                return service.do_create_referral(
                    session, actor=actor, campaign_id=campaign.id, data=created, now=now
                )
        edited = ReferralUpdate.model_validate(payload(raw))
        with db.transaction() as session:
            return service.do_update_referral(
                session, actor=actor, activity_id=activity.id, data=edited, now=now
            )

    return save_or_show_again(
        save,
        again=partial(_form, request, actor=actor, campaign=campaign, activity=activity, db=db),
        done=lambda saved: see_other(activity_url(actor, ActivityKind.REFERRAL, saved.id)),
        values=raw,
        invalid=field_errors,
        refused=lambda exc: first_field(service_error(exc)),
        propagate=(),
    )


@router.get("/campaigns/{campaign_id}/referral/new")
def new_referral(request: Request, campaign_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    values = {
        "qualify_on": QualifyOn.JOINED.value,
        "levels": "1",
        "burst_minutes": "10",
        "burst_max": "5",
        "inviter_kind": "points",
        "inviter_points": "50",
    }
    campaign = _campaign(db, actor, campaign_id)
    return _form(request, actor=actor, campaign=campaign, db=db, state=FormState(values))


@router.post("/campaigns/{campaign_id}/referral")
def create_referral(
    request: Request,
    campaign_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    campaign = _campaign(db, actor, campaign_id)
    return _submit(
        request, form=form, actor=actor, db=db, now=now, campaign=campaign, activity=None
    )


@router.get("/referral/{activity_id}/edit")
def edit_referral(request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    activity, campaign = _referral(db, actor, activity_id)
    values = _values_of(ReferralSettings.model_validate(activity.settings), activity)
    state = FormState(values)
    return _form(request, actor=actor, campaign=campaign, activity=activity, db=db, state=state)


@router.post("/referral/{activity_id}/edit")
def update_referral(
    request: Request,
    activity_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    activity, campaign = _referral(db, actor, activity_id)
    return _submit(
        request, form=form, actor=actor, db=db, now=now, campaign=campaign, activity=activity
    )


@router.get("/referral/{activity_id}")
def detail(request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    shown = request.query_params.get("status") or None
    status = InviteStatus(shown) if shown in {s.value for s in InviteStatus} else None
    with db.session() as session:
        stats = reads.referral_stats(session, actor=actor, activity_id=activity_id, status=status)
        activity, campaign = activity_and_campaign(
            session, actor, activity_id, ActivityKind.REFERRAL
        )
        rewards = {
            "inviter": reads.describe(
                session, workspace_id=actor.workspace_id, reward=stats.settings.inviter_reward
            ),
            "invitee": reads.describe(
                session, workspace_id=actor.workspace_id, reward=stats.settings.invitee_reward
            ),
            "level2": reads.describe(
                session, workspace_id=actor.workspace_id, reward=stats.settings.level2_reward
            ),
        }
        milestones = [
            (m.friends, reads.describe(session, workspace_id=actor.workspace_id, reward=m.reward))
            for m in stats.settings.milestones
        ]
    return render(
        request,
        "activities/referral/detail.html",
        {
            **activity_context(request, actor, activity, campaign),
            "stats": stats,
            "rewards": rewards,
            "milestones": milestones,
            "status": status,
            "qualify_labels": QUALIFY_LABELS,
            "status_labels": STATUS_LABELS,
            "reason_labels": REASON_LABELS,
            # What qualified a friend and where they came from, in words (not event keys).
            "event_labels": EVENT_LABELS,
            "channel_labels": {c.value: label for c, label in CHANNEL_LABELS.items()},
        },
    )
