"""集卡's draw: the follower of the event log that gives a card for each qualifying event.

Every qualifying event of a campaign (a vote, a check-in, a quiz or survey answered, a friend
who joined through one's share link) draws one card in each 集卡 activity of that campaign for
the person it belongs to, once per event (a unique key on the event id), each event in a
savepoint (`isolation.follow_events`: one that fails is dead-lettered and passed over). The
card is `core.pick(HMAC(seed, event id), weights)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2 import isolation
from im2.activities.formats.cards import core
from im2.activities.formats.cards.models import CardCursor, CardItem
from im2.activities.formats.cards.service import check_set, seed_of, settings_of
from im2.activities.formats.common import participant_event
from im2.activities.models import Activity
from im2.activities.schemas import ActivityKind
from im2.events.schemas import ActorType, EventKind, EventRecord
from im2.sharing import service as sharing

CURSOR = "cards"
FOLLOWER = "cards_draw"  # the job's name, in logs and dead letters
BATCH = 500
# Taking part elsewhere in the campaign: the acting participant draws a card.
EARNING_KINDS = (
    EventKind.VOTE_CAST,
    EventKind.CHECKIN_DONE,
    EventKind.QUIZ_ANSWERED,
    EventKind.SURVEY_SUBMITTED,
)
# A friend who joined through one's share link: the sharer draws a card.
BRINGING_KINDS = (EventKind.PARTICIPANT_JOINED,)
FOLLOWED_KINDS = tuple(k.value for k in EARNING_KINDS + BRINGING_KINDS)


@dataclass(slots=True)
class _Run:
    session: Session
    now: datetime
    # campaign id -> its 集卡 activities (looked up once per batch)
    activities: dict[int, list[Activity]] = field(default_factory=dict)
    touched: set[int] = field(default_factory=set)

    def cards_of(self, campaign_id: int) -> list[Activity]:
        found = self.activities.get(campaign_id)
        if found is None:
            found = self.activities[campaign_id] = list(
                self.session.scalars(
                    select(Activity)
                    .where(
                        Activity.campaign_id == campaign_id,
                        Activity.kind == ActivityKind.CARDS.value,
                    )
                    .order_by(Activity.id)
                )
            )
        return found


def beneficiary(session: Session, ev: EventRecord) -> int | None:
    """The participant whose taking part this event is, or None when it earns no card."""
    if ev.properties.get("held"):
        return None  # held for review: it counts once a person has looked at it
    if ev.kind in BRINGING_KINDS_VALUES:
        if not ev.referrer or ev.campaign_id is None:
            return None
        link = sharing.get_link_by_code(session, code=ev.referrer)
        if link is None or link.campaign_id != ev.campaign_id:
            return None
        return link.participant_id
    if ev.actor_type == ActorType.PARTICIPANT.value and ev.actor_id and ev.actor_id.isdecimal():
        return int(ev.actor_id)
    return None


BRINGING_KINDS_VALUES = frozenset(k.value for k in BRINGING_KINDS)


def process_events(
    session: Session,
    *,
    now: datetime,
    settle: timedelta,
    announce: Callable[[int], None] | None = None,
) -> int:
    """Draw the cards of up to BATCH events after the cursor; returns how many were read.
    Idempotent: a card is keyed by (activity, event), so a lost cursor draws nothing twice.
    `announce(activity_id)` is called for every activity that drew a card (after the commit,
    when the caller passes a hub's publish through `on_commit`)."""
    run = _Run(session=session, now=now)
    read = isolation.follow_events(
        session,
        cursor=CardCursor,
        name=CURSOR,
        job=FOLLOWER,
        handle=lambda ev: _draw_for(run, ev),
        now=now,
        batch=BATCH,
        settle=settle,
        kinds=FOLLOWED_KINDS,
        forget=run.activities.clear,
    ).read
    if announce is not None:
        for activity_id in sorted(run.touched):
            announce(activity_id)
    return read


def _draw_for(run: _Run, ev: EventRecord) -> None:
    if ev.campaign_id is None:
        return
    boards = run.cards_of(ev.campaign_id)
    if not boards:
        return
    who = beneficiary(run.session, ev)
    if who is None:
        return
    for board in boards:
        if draw_card(run.session, activity=board, participant_id=who, event=ev, now=run.now):
            run.touched.add(board.id)


def draw_card(
    session: Session, *, activity: Activity, participant_id: int, event: EventRecord, now: datetime
) -> CardItem | None:
    """The card of `event` for `participant_id`, or None when that event drew one already."""
    settings = settings_of(activity)
    ticket = core.ticket(seed_of(session, activity_id=activity.id, now=now), event.id)
    card = settings.cards[core.pick(ticket, [c.weight for c in settings.cards])]
    item = CardItem(
        activity_id=activity.id,
        card=card.key,
        owner_id=participant_id,
        drawn_by_id=participant_id,
        source_event_id=event.id,
        ticket=ticket,
        drawn_at=now,
    )
    try:
        with session.begin_nested():
            session.add(item)
            session.flush()
    except IntegrityError:
        return None
    participant_event(
        session,
        EventKind.CARD_DRAWN,
        activity=activity,
        participant_id=participant_id,
        now=now,
        properties={"card": card.key, "source_event": event.id, "by": event.kind},
    )
    check_set(session, activity=activity, participant_id=participant_id, now=now)
    return item
