"""Console pages of referral activities: the editor (rewards, milestones, levels ≤ 2, the
qualifying action), the results with held invites and their evidence, the leaderboard, and the
CSV export."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from im2.activities import service as activities
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
from im2.activities.schemas import KIND_LABELS, ActivityKind, ActivityRead
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CHANNEL_LABELS, CampaignRead
from im2.errors import IM2Error
from im2.incentives import service as incentives
from im2.incentives.schemas import EVENT_LABELS
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.forms import service_error, validation_errors
from im2.web.links import public_base_url
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


def _errors(exc: ValidationError) -> dict[str, str]:
    """Per form field: `inviter_reward.points` → `inviter_reward`, `milestones.1.friends` →
    `milestones`; rules that concern several fields go to the top of the form."""
    errors: dict[str, str] = {}
    for key, message in validation_errors(exc).items():
        errors.setdefault(key.split(".")[0], message)
    return errors


def _form(
    request: Request,
    *,
    actor: Actor,
    campaign: CampaignRead,
    values: dict[str, str],
    errors: dict[str, str],
    activity: ActivityRead | None = None,
    status_code: int = 200,
    db: DbDep,
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
            "values": values,
            "errors": errors,
            "pools": pools,
            "prizes": prizes,
            "qualify_labels": QUALIFY_LABELS,
            "max_levels": MAX_LEVELS,
            "milestone_rows": range(MILESTONE_ROWS),
            "action": action,
            "nav": "campaigns",
        },
        status_code=status_code,
    )


@router.get("/campaigns/{campaign_id}/referral/new")
def new_referral(request: Request, campaign_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    require(actor, Permission.WRITE_CAMPAIGNS)
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    values = {
        "qualify_on": QualifyOn.JOINED.value,
        "levels": "1",
        "burst_minutes": "10",
        "burst_max": "5",
        "inviter_kind": "points",
        "inviter_points": "50",
    }
    return _form(request, actor=actor, campaign=campaign, values=values, errors={}, db=db)


def _submit(
    request: Request,
    *,
    form: CsrfForm,
    actor: Actor,
    db: DbDep,
    now: NowDep,
    campaign: CampaignRead,
    activity: ActivityRead | None,
) -> Response:
    raw = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    model: type[BaseModel] = ReferralCreate if activity is None else ReferralUpdate
    try:
        data = model.model_validate(payload(raw))
        with db.transaction() as session:
            if isinstance(data, ReferralCreate):
                saved = service.do_create_referral(
                    session, actor=actor, campaign_id=campaign.id, data=data, now=now
                )
            else:
                assert isinstance(data, ReferralUpdate)
                assert activity is not None
                saved = service.do_update_referral(
                    session, actor=actor, activity_id=activity.id, data=data, now=now
                )
    except ValidationError as exc:
        return _form(
            request,
            actor=actor,
            campaign=campaign,
            values=raw,
            errors=_errors(exc),
            activity=activity,
            status_code=422,
            db=db,
        )
    except IM2Error as exc:
        errors = {k.split(".")[0]: v for k, v in service_error(exc).items()}
        return _form(
            request,
            actor=actor,
            campaign=campaign,
            values=raw,
            errors=errors,
            activity=activity,
            status_code=exc.status_code,
            db=db,
        )
    return RedirectResponse(
        f"/console/w/{actor.workspace_slug}/referral/{saved.id}", status_code=303
    )


@router.post("/campaigns/{campaign_id}/referral")
def create_referral(
    request: Request,
    campaign_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    require(actor, Permission.WRITE_CAMPAIGNS)
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    return _submit(
        request, form=form, actor=actor, db=db, now=now, campaign=campaign, activity=None
    )


def _referral(session: Session, actor: Actor, activity_id: int) -> ActivityRead:
    """The activity, if it is a referral of the actor's workspace (404 otherwise)."""
    return activities.to_read(
        activities.load_activity(
            session, actor=actor, activity_id=activity_id, kind=ActivityKind.REFERRAL
        )
    )


@router.get("/referral/{activity_id}/edit")
def edit_referral(request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    require(actor, Permission.WRITE_CAMPAIGNS)
    with db.session() as session:
        activity = _referral(session, actor, activity_id)
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=activity.campaign_id)
    values = _values_of(ReferralSettings.model_validate(activity.settings), activity)
    return _form(
        request, actor=actor, campaign=campaign, values=values, errors={}, activity=activity, db=db
    )


@router.post("/referral/{activity_id}/edit")
def update_referral(
    request: Request,
    activity_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    require(actor, Permission.WRITE_CAMPAIGNS)
    with db.session() as session:
        activity = _referral(session, actor, activity_id)
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=activity.campaign_id)
    return _submit(
        request, form=form, actor=actor, db=db, now=now, campaign=campaign, activity=activity
    )


@router.get("/referral/{activity_id}")
def detail(request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    shown = request.query_params.get("status") or None
    status = InviteStatus(shown) if shown in {s.value for s in InviteStatus} else None
    with db.session() as session:
        stats = reads.referral_stats(session, actor=actor, activity_id=activity_id, status=status)
        activity = activities.get_activity(session, actor=actor, activity_id=activity_id)
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=activity.campaign_id)
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
    base_url = public_base_url(request)
    return render(
        request,
        "activities/referral/detail.html",
        {
            "activity": activity,
            "campaign": campaign,
            "stats": stats,
            "rewards": rewards,
            "milestones": milestones,
            "status": status,
            "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
            "kind_labels": KIND_LABELS,
            "qualify_labels": QUALIFY_LABELS,
            "status_labels": STATUS_LABELS,
            "reason_labels": REASON_LABELS,
            # What qualified a friend and where they came from, in words (not event keys).
            "event_labels": EVENT_LABELS,
            "channel_labels": {c.value: label for c, label in CHANNEL_LABELS.items()},
            "public_url": f"{base_url}/c/{campaign.slug}/referral/{activity.id}",
            "nav": "campaigns",
        },
    )
