"""The embed domain's operations: a workspace's allowed origins, and what the widget reads.

Routes own the transaction; nothing here commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.formats.poll import service as polls
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignFilter, CampaignRead
from im2.embed.models import EmbedOrigin
from im2.embed.schemas import (
    MAX_ORIGINS,
    EmbedOriginRead,
    WidgetActivity,
    WidgetOption,
    WidgetPoll,
    check_origin,
)
from im2.errors import InvalidInput, NotFound
from im2.i18n import _
from im2.participation.schemas import CONSENT_TEXT
from im2.people.consent import service as consents
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require


def _read(row: EmbedOrigin) -> EmbedOriginRead:
    return EmbedOriginRead(id=row.id, origin=row.origin, created_at=row.created_at)


def _existing(session: Session, *, workspace_id: int, origin: str) -> EmbedOrigin | None:
    return session.scalar(
        select(EmbedOrigin).where(
            EmbedOrigin.workspace_id == workspace_id, EmbedOrigin.origin == origin
        )
    )


def list_origins(session: Session, *, actor: Actor) -> list[EmbedOriginRead]:
    require(actor, Permission.READ_CAMPAIGNS)
    rows = session.scalars(
        select(EmbedOrigin)
        .where(EmbedOrigin.workspace_id == actor.workspace_id)
        .order_by(EmbedOrigin.origin)
    )
    return [_read(r) for r in rows]


def allowed_origins(session: Session, *, workspace_id: int) -> list[str]:
    """The origins that may frame the workspace's activities (no actor: the embed pages ask)."""
    return list(
        session.scalars(
            select(EmbedOrigin.origin)
            .where(EmbedOrigin.workspace_id == workspace_id)
            .order_by(EmbedOrigin.origin)
        )
    )


def do_add_origin(session: Session, *, actor: Actor, origin: str, now: datetime) -> EmbedOriginRead:
    """Allow one more site to embed. Idempotent: an origin already allowed (also by a
    concurrent request, which the unique constraint settles) is answered as it is."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    value = check_origin(origin)
    existing = _existing(session, workspace_id=actor.workspace_id, origin=value)
    if existing is not None:
        return _read(existing)
    count = session.scalar(
        select(func.count())
        .select_from(EmbedOrigin)
        .where(EmbedOrigin.workspace_id == actor.workspace_id)
    )
    if (count or 0) >= MAX_ORIGINS:
        raise InvalidInput(
            _("At most {n} sites may embed this workspace's activities.").format(n=MAX_ORIGINS),
            field="origin",
        )
    row = EmbedOrigin(workspace_id=actor.workspace_id, origin=value, created_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        again = _existing(session, workspace_id=actor.workspace_id, origin=value)
        if again is None:
            raise
        return _read(again)
    record_audit(
        session,
        actor,
        "embed_origin.add",
        ("embed_origin", row.id),
        value,
        now=now,
        after={"origin": value},
    )
    return _read(row)


def do_remove_origin(session: Session, *, actor: Actor, origin_id: int, now: datetime) -> None:
    require(actor, Permission.WRITE_CAMPAIGNS)
    row = session.get(EmbedOrigin, origin_id)
    if row is None or row.workspace_id != actor.workspace_id:
        raise NotFound(_("There is no such embed origin."))
    record_audit(
        session,
        actor,
        "embed_origin.remove",
        ("embed_origin", row.id),
        row.origin,
        now=now,
        before={"origin": row.origin},
    )
    session.delete(row)


def workspace_of_campaign(session: Session, *, slug: str) -> int:
    """The workspace of a campaign the public may see (NotFound otherwise)."""
    return activities.get_public_campaign(session, slug=slug, with_activities=False).workspace_id


# The formats the frame shows in full besides the poll, and their public JSON views.
FRAME_VIEWS = {
    ActivityKind.QUIZ: "quizzes",
    ActivityKind.SURVEY: "surveys",
    ActivityKind.QA: "qas",
    ActivityKind.CHECKIN: "checkins",
    ActivityKind.UGC: "ugcs",
    ActivityKind.DRAW: "draws",
    ActivityKind.CARDS: "cards",
    ActivityKind.GROUPBUY: "groupbuys",
    ActivityKind.REFERRAL: "referrals",
}


def _view_url(kind: ActivityKind, *, slug: str, activity_id: int) -> str | None:
    plural = FRAME_VIEWS.get(kind)
    return f"/api/v1/public/campaigns/{slug}/{plural}/{activity_id}" if plural else None


def read_widget_activity(
    session: Session, *, slug: str, activity_id: int, device_id: str, now: datetime
) -> WidgetActivity:
    """What one visitor (a device cookie or a widget token) sees of an activity. Polls come
    whole (options, the visitor's vote, results when shown); other formats come with their
    title and the address of their full page."""
    public, row = activities.public_activity(session, slug=slug, activity_id=activity_id)
    participant = activities.participant_for(session, public=public, device_id=device_id)
    reason = activities.closed_reason(public.campaign)
    box = (
        None
        if participant is not None
        else consents.taking_part_text(
            session,
            workspace_id=public.workspace_id,
            default_language=public.campaign.default_language.value,
        )
    )
    poll = None
    if row.kind == ActivityKind.POLL:
        view = polls.view_poll(
            session, slug=slug, activity_id=activity_id, device_id=device_id, now=now
        )
        poll = WidgetPoll(
            multiple=view.settings.multiple,
            max_choices=view.settings.choice_limit,
            options=[
                WidgetOption(id=i, label=label, image_url=img) for i, label, img in view.options
            ],
            voted=view.voted,
            can_vote=view.can_vote,
            my_choices=view.my_choices,
            results=view.results,
            vote_url=f"/api/v1/public/campaigns/{slug}/polls/{activity_id}/votes",
        )
    return WidgetActivity(
        id=row.id,
        kind=ActivityKind(row.kind),
        title=row.title,
        description=row.description,
        campaign_slug=public.campaign.slug,
        campaign_name=public.campaign.name,
        open=reason is None,
        closed_reason=reason,
        needs_consent=participant is None,
        # What the page's consent box says (the brand's "taking part" text), read only for a
        # visitor who has not joined; the vote records this text's version.
        consent_text=_(CONSENT_TEXT) if box is None else box.text,
        consent_sha256=None if box is None else box.sha256,
        page_url=f"/c/{slug}/{row.kind}/{row.id}",
        view_url=_view_url(ActivityKind(row.kind), slug=slug, activity_id=row.id),
        languages=public.campaign.languages,
        default_language=public.campaign.default_language,
        poll=poll,
    )


def embeddable_activities(
    session: Session, *, actor: Actor
) -> list[tuple[CampaignRead, ActivityRead]]:
    """The activities of the workspace's latest campaigns that are not archived (the console's
    snippet picker): (campaign, activity) pairs, by campaign then position."""
    page = campaigns.list_campaigns(session, actor=actor, filters=CampaignFilter(), limit=50)
    return [
        (campaign, activity)
        for campaign in page.items
        for activity in activities.list_activities(session, actor=actor, campaign_id=campaign.id)
    ]
