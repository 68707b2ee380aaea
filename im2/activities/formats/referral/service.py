"""Referral / invite-a-friend: who invited whom (the share tree's edges), when an invite
qualifies, and the rewards it gives, once each.

- The invite edge is the share tree's: a participant who joined through someone's share link of
  this campaign (`referred_by`) is that person's invitee. The inviter's own inviter is level 2;
  there is no level 3 (see schemas: deeper levels are pyramid selling).
- A job follows the event log with a cursor (`process_events`). A join through a link creates
  the invite (pending); the invitee's qualifying action (joining, verifying, a first
  interaction, a purchase postback) qualifies it once: a conditional UPDATE moves it from
  pending, so concurrent runs and re-runs reward nothing twice, and every grant carries a
  deterministic key that the incentives ledger keeps unique as well.
- An invite that looks like self-referral (same device, network or verified identity as the
  inviter, a ring, a burst through one link) still qualifies but its rewards are held for the
  brand's review with the evidence, never paid silently.

The console's and the page's operations are here; the follower of the event log is in
`follow.py` (invites, qualification) and the rewards it gives in `rewards.py`.

Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.formats.common import add_activity
from im2.activities.formats.referral.schemas import (
    ReferralCreate,
    ReferralSettings,
    ReferralUpdate,
    Reward,
)
from im2.activities.models import Activity
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.errors import InvalidInput
from im2.i18n import _
from im2.incentives import service as incentives
from im2.participation.schemas import Visitor
from im2.sharing import service as sharing
from im2.workspaces.schemas import Actor


def settings_of(activity: Activity) -> ReferralSettings:
    return ReferralSettings.model_validate(activity.settings)


# --- console -----------------------------------------------------------------------------------


def _check_targets(
    session: Session, *, workspace_id: int, campaign_id: int, rules: ReferralSettings
) -> None:
    """Every coupon pool and prize named must be this campaign's."""
    pools = {p.id for p in incentives.list_pools(session, workspace_id=workspace_id)}
    prizes = {p.id for p in incentives.list_prizes(session, workspace_id=workspace_id)}
    named: list[tuple[str, Reward | None]] = [
        ("inviter_reward", rules.inviter_reward),
        ("invitee_reward", rules.invitee_reward),
        ("level2_reward", rules.level2_reward),
    ]
    named += [(f"milestones.{i}.reward", m.reward) for i, m in enumerate(rules.milestones)]
    campaign_pools = {
        p.id
        for p in incentives.list_pools(session, workspace_id=workspace_id, campaign_id=campaign_id)
    }
    campaign_prizes = {
        p.id
        for p in incentives.list_prizes(session, workspace_id=workspace_id, campaign_id=campaign_id)
    }
    for where, reward in named:
        if reward is None:
            continue
        if reward.kind == "coupon" and reward.pool_id not in campaign_pools:
            message = _("There is no such coupon pool in this campaign.")
            if reward.pool_id not in pools:
                message = _("There is no such coupon pool.")
            raise InvalidInput(message, field=where)
        if reward.kind == "prize" and reward.prize_id not in campaign_prizes:
            message = _("There is no such prize in this campaign.")
            if reward.prize_id not in prizes:
                message = _("There is no such prize.")
            raise InvalidInput(message, field=where)


def do_create_referral(
    session: Session, *, actor: Actor, campaign_id: int, data: ReferralCreate, now: datetime
) -> ActivityRead:
    rules = ReferralSettings.model_validate(data.model_dump(exclude={"title", "description"}))
    _check_targets(session, workspace_id=actor.workspace_id, campaign_id=campaign_id, rules=rules)
    row = add_activity(
        session,
        ActivityKind.REFERRAL,
        actor=actor,
        campaign_id=campaign_id,
        data=data,
        settings=rules.model_dump(mode="json"),
        now=now,
    )
    return activities.to_read(row)


def merged_settings(current: ReferralSettings, data: ReferralUpdate) -> ReferralSettings:
    """The rules after applying `data`; InvalidInput (naming the field) if they are not valid."""
    changes = data.model_dump(exclude_unset=True, exclude={"title", "description"}, mode="json")
    try:
        return ReferralSettings.model_validate({**current.model_dump(mode="json"), **changes})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or None
        raise InvalidInput(str(first.get("msg")), field=where) from None


def do_update_referral(
    session: Session, *, actor: Actor, activity_id: int, data: ReferralUpdate, now: datetime
) -> ActivityRead:
    row = activities.load_activity(
        session, actor=actor, activity_id=activity_id, kind=ActivityKind.REFERRAL
    )
    rules = merged_settings(settings_of(row), data)
    _check_targets(session, workspace_id=row.workspace_id, campaign_id=row.campaign_id, rules=rules)
    return activities.do_update_activity(
        session,
        actor=actor,
        activity_id=activity_id,
        kind=ActivityKind.REFERRAL,
        title=data.title,
        description=data.description,
        settings=rules.model_dump(mode="json"),
        now=now,
    )


def do_get_link(
    session: Session,
    *,
    slug: str,
    activity_id: int,
    visitor: Visitor,
    consented: bool,
    seconds_on_page: float | None,
    risk_threshold: float,
    identities_per_ip_hour: int,
    now: datetime,
) -> None:
    """Join the campaign (with consent, the first time) and get one's own invite link for it:
    the referral page's one action."""
    public, _row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.REFERRAL
    )
    activities.require_open(public)
    acting = activities.join_and_assess(
        session,
        public=public,
        visitor=visitor,
        consented=consented,
        seconds_on_page=seconds_on_page,
        risk_threshold=risk_threshold,
        identities_per_ip_hour=identities_per_ip_hour,
        now=now,
    )
    sharing.do_get_link(
        session,
        workspace_id=public.workspace_id,
        campaign_id=public.campaign.id,
        participant_id=acting.participant.id,
        now=now,
    )
