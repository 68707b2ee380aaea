"""Event kinds and the shape of an event as other domains see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from im2.types import PeopleData


class EventKind(StrEnum):
    """Every kind of event. Later domains add theirs here, so the log has one vocabulary."""

    CAMPAIGN_CREATED = "campaign.created"
    CAMPAIGN_UPDATED = "campaign.updated"
    CAMPAIGN_DUPLICATED = "campaign.duplicated"
    CAMPAIGN_STATUS_CHANGED = "campaign.status_changed"
    USER_CREATED = "user.created"
    USER_LOGGED_IN = "user.logged_in"
    USER_LOGGED_OUT = "user.logged_out"
    USER_LOCKED_OUT = "user.locked_out"
    MEMBER_ADDED = "member.added"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    MEMBER_REMOVED = "member.removed"
    TOKEN_CREATED = "token.created"
    TOKEN_REVOKED = "token.revoked"

    # Participants (activities, participation, sharing, incentives).
    CAMPAIGN_VIEWED = "campaign.viewed"
    ACTIVITY_VIEWED = "activity.viewed"
    ACTIVITY_CREATED = "activity.created"
    ACTIVITY_UPDATED = "activity.updated"
    PARTICIPANT_JOINED = "participant.joined"
    PARTICIPANT_VERIFIED = "participant.verified"
    VOTE_CAST = "vote.cast"
    QUIZ_ANSWERED = "quiz.answered"
    PREDICTION_SETTLED = "prediction.settled"
    SURVEY_SUBMITTED = "survey.submitted"
    QUESTION_ASKED = "question.asked"
    QUESTION_UPVOTED = "question.upvoted"
    UGC_SUBMITTED = "ugc.submitted"
    UGC_VOTED = "ugc.voted"
    UGC_MODERATED = "ugc.moderated"
    DRAW_ENTERED = "draw.entered"
    DRAW_WON = "draw.won"
    CHECKIN_DONE = "checkin.done"
    STREAK_MILESTONE = "checkin.milestone"
    GROUPBUY_OPENED = "groupbuy.opened"
    GROUPBUY_JOINED = "groupbuy.joined"
    GROUPBUY_SUCCEEDED = "groupbuy.succeeded"
    GROUPBUY_FAILED = "groupbuy.failed"
    COMMENT_POSTED = "comment.posted"
    LIKE_GIVEN = "like.given"
    SHARE_CREATED = "share.created"
    SHARE_CLICKED = "share.clicked"
    REFERRAL_CONVERTED = "referral.converted"
    POINTS_AWARDED = "points.awarded"
    COUPON_ISSUED = "coupon.issued"
    COUPON_REDEEMED = "coupon.redeemed"
    CONVERSION_RECORDED = "conversion.recorded"
    POINTS_SPENT = "points.spent"
    POINTS_EXPIRED = "points.expired"
    PRIZE_CLAIMED = "prize.claimed"
    REWARD_HELD = "reward.held"
    REWARD_APPROVED = "reward.approved"
    REWARD_VOIDED = "reward.voided"
    REFERRAL_INVITED = "referral.invited"
    REFERRAL_QUALIFIED = "referral.qualified"
    REFERRAL_MILESTONE = "referral.milestone"
    CARD_DRAWN = "card.drawn"
    CARD_GIFTED = "card.gifted"
    CARD_CLAIMED = "card.claimed"
    CARD_SET_COMPLETED = "card.set_completed"
    POSTER_DOWNLOADED = "poster.downloaded"
    WEBHOOK_CREATED = "webhook.created"
    WEBHOOK_UPDATED = "webhook.updated"

    # People: segments (a saved version; a person came into a segment, for webhooks).
    SEGMENT_SAVED = "segment.saved"
    SEGMENT_ENTERED = "segment.entered"

    # Analytics, experiments, reports.
    EXPERIMENT_EXPOSED = "experiment.exposed"
    EXPERIMENT_CREATED = "experiment.created"
    EXPERIMENT_CONCLUDED = "experiment.concluded"
    REPORT_GENERATED = "report.generated"

    # Listening.
    MENTIONS_IMPORTED = "mentions.imported"
    ALERT_RAISED = "alert.raised"
    INBOX_ASSIGNED = "inbox.assigned"
    INBOX_STATUS_CHANGED = "inbox.status_changed"
    INBOX_ESCALATED = "inbox.escalated"
    SENTIMENT_RETRAINED = "sentiment.retrained"

    # Influence.
    INFLUENCE_GRAPH_IMPORTED = "influence.graph_imported"
    INFLUENCE_GRAPH_DELETED = "influence.graph_deleted"


# A page shown to a visitor (recorded by participation, counted by analytics).
VIEW_KINDS = (EventKind.CAMPAIGN_VIEWED, EventKind.ACTIVITY_VIEWED)


class ActorType(StrEnum):
    USER = "user"
    TOKEN = "token"
    PARTICIPANT = "participant"
    # A browser on the public pages, known only by its device cookie (views, share clicks);
    # its actor_id is `visitor_actor(device_id)` from im2.participation.schemas.
    VISITOR = "visitor"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: int
    occurred_at: datetime
    workspace_id: int
    campaign_id: int | None
    activity_id: int | None
    actor_type: str
    actor_id: str | None
    kind: str
    channel: str | None
    referrer: str | None
    properties: dict[str, Any] = field(default_factory=dict)


# What this domain holds about people (im2.types.PeopleData, walked by im2.privacy.inventory):
# an event's actor is a participant id or "d:<device>"; erasure gives the person's events a
# fresh random actor (no mapping kept) so that they stay countable.
PEOPLE_DATA: tuple[PeopleData, ...] = (
    PeopleData(
        table="events",
        identity_columns=("actor_id",),
        code_columns=("referrer",),
        personal_columns=("properties",),
    ),
)
