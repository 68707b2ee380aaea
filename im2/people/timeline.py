"""A person's timeline across campaigns, read from the event log for every actor id they hold.

A person's devices appear in the log as `d:<device>` (views, share clicks), their participants
as the participant id (votes, answers, check-ins, comments, shares, conversions); rewards the
system gives (points, coupons, prizes) name the participant in `properties.participant`; and a
friend who joined through one of their share links carries that code as the event's referrer.
All four are read newest first (by time, then id), one page at a time, and labelled in the
reader's language.

Posts of theirs that social listening collected come in between, by posting time: a mention
whose platform and author are one of the person's social accounts (`SOCIAL_KINDS`). At the
same time, events come before mentions; the cursor says which of the two the page ended on.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.campaigns.service import get_public_campaign_by_id
from im2.errors import InvalidInput
from im2.events.schemas import EventKind, EventRecord
from im2.events.service import actor_events
from im2.i18n import N_, _
from im2.listening.people import AccountMention, account_mentions
from im2.listening.schemas import PLATFORM_LABELS, SENTIMENT_LABELS
from im2.people.models import Person, PersonIdentity
from im2.people.schemas import (
    CASE_FOLDED_KINDS,
    SOCIAL_KINDS,
    IdentityKind,
    TimelineItem,
    TimelinePage,
)
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import require

READ_PEOPLE = Permission.READ_PEOPLE

# What each kind of event says about the person, in plain words.
LABELS: dict[str, str] = {
    EventKind.CAMPAIGN_VIEWED: N_("Viewed the campaign"),
    EventKind.ACTIVITY_VIEWED: N_("Viewed an activity"),
    EventKind.PARTICIPANT_JOINED: N_("Took part for the first time"),
    EventKind.PARTICIPANT_VERIFIED: N_("Verified a phone number or e-mail"),
    EventKind.VOTE_CAST: N_("Voted"),
    EventKind.QUIZ_ANSWERED: N_("Answered a quiz"),
    EventKind.SURVEY_SUBMITTED: N_("Filled in a survey"),
    EventKind.QUESTION_ASKED: N_("Asked a question"),
    EventKind.QUESTION_UPVOTED: N_("Upvoted a question"),
    EventKind.UGC_SUBMITTED: N_("Submitted a photo or video"),
    EventKind.UGC_VOTED: N_("Voted for an entry"),
    EventKind.DRAW_ENTERED: N_("Entered a lucky draw"),
    EventKind.DRAW_WON: N_("Won a lucky draw"),
    EventKind.CHECKIN_DONE: N_("Checked in"),
    EventKind.STREAK_MILESTONE: N_("Reached a check-in streak"),
    EventKind.GROUPBUY_OPENED: N_("Started a group-buy"),
    EventKind.GROUPBUY_JOINED: N_("Joined a group-buy"),
    EventKind.COMMENT_POSTED: N_("Commented"),
    EventKind.LIKE_GIVEN: N_("Liked"),
    EventKind.SHARE_CREATED: N_("Shared"),
    EventKind.SHARE_CLICKED: N_("Opened a shared link"),
    EventKind.POSTER_DOWNLOADED: N_("Downloaded a share poster"),
    EventKind.REFERRAL_INVITED: N_("Invited a friend"),
    EventKind.POINTS_AWARDED: N_("Received points"),
    EventKind.POINTS_SPENT: N_("Spent points"),
    EventKind.POINTS_EXPIRED: N_("Points expired"),
    EventKind.COUPON_ISSUED: N_("Received a coupon"),
    EventKind.COUPON_REDEEMED: N_("Redeemed a coupon"),
    EventKind.PRIZE_CLAIMED: N_("Received a prize"),
    EventKind.CONVERSION_RECORDED: N_("Converted"),
    EventKind.CARD_DRAWN: N_("Drew a card"),
    EventKind.CARD_GIFTED: N_("Gave a card"),
    EventKind.CARD_CLAIMED: N_("Received a card"),
    EventKind.CARD_SET_COMPLETED: N_("Completed a card set"),
    EventKind.EXPERIMENT_EXPOSED: N_("Saw a test variant"),
}
OTHER = N_("Other activity")
BROUGHT = N_("Brought a friend")
MENTIONED = N_("Posted on {platform}")
MENTION_KIND = "mention"
EXCERPT = 140  # characters of a mention's text the timeline shows
# Rewards the system records about a participant (`properties.participant`).
REWARD_KINDS = (
    EventKind.POINTS_AWARDED.value,
    EventKind.POINTS_EXPIRED.value,
    EventKind.COUPON_ISSUED.value,
    EventKind.PRIZE_CLAIMED.value,
)
# A friend's events that came through the person's share code.
BROUGHT_KINDS = (EventKind.PARTICIPANT_JOINED.value,)
MAX_LIMIT = 100


def _encode(at: datetime, last_id: int, *, mention: bool) -> str:
    raw = f"{at.isoformat()}|{last_id}" + ("|m" if mention else "")
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str | None) -> tuple[datetime, int, bool] | None:
    """(time, id, whether it was a mention) of the last item a page showed."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, last_id, *rest = text.split("|")
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None or rest not in ([], ["m"]):
            raise ValueError(at)
        return moment, int(last_id), rest == ["m"]
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput(
            _("The cursor is not valid; use next_cursor from a previous page."), field="cursor"
        ) from None


def actor_ids_of(session: Session, *, person_id: int) -> tuple[list[str], list[int], list[str]]:
    """(event actor ids, participant ids, share codes) of the person's identities."""
    actors: list[str] = []
    participants: list[int] = []
    codes: list[str] = []
    for kind, value in session.execute(
        select(PersonIdentity.kind, PersonIdentity.value)
        .where(PersonIdentity.person_id == person_id)
        .order_by(PersonIdentity.id)
    ):
        if kind == IdentityKind.DEVICE.value:
            actors.append("d:" + value)
        elif kind == IdentityKind.PARTICIPANT.value:
            actors.append(value)
            participants.append(int(value))
        elif kind == IdentityKind.SHARE_CODE.value:
            codes.append(value)
    return actors, participants, codes


def _share_codes(session: Session, *, workspace_id: int, participants: Sequence[str]) -> list[str]:
    """The codes of the share links the person's participants made (from their events)."""
    if not participants:
        return []
    shares = actor_events(
        session,
        workspace_id=workspace_id,
        actor_ids=participants,
        actor_kinds=[EventKind.SHARE_CREATED.value],
        limit=1000,
    )
    return [str(e.properties["code"]) for e in shares if e.properties.get("code")]


def _detail(event: EventRecord) -> str | None:
    props: dict[str, Any] = event.properties
    if event.kind in (
        EventKind.POINTS_AWARDED,
        EventKind.POINTS_SPENT,
        EventKind.POINTS_EXPIRED,
    ) and isinstance(props.get("points"), int):
        return _("{n} points").format(n=f"{props['points']:,}")
    if event.kind == EventKind.PRIZE_CLAIMED and props.get("name"):
        return str(props["name"])[:80]
    if event.kind == EventKind.DRAW_WON and props.get("prize"):
        return str(props["prize"])[:80]
    return None


def social_accounts_of(session: Session, *, person_id: int) -> list[tuple[str, str]]:
    """(platform, handle) of the person's social accounts."""
    return [
        (str(kind), str(value))
        for kind, value in session.execute(
            select(PersonIdentity.kind, PersonIdentity.value)
            .where(
                PersonIdentity.person_id == person_id,
                PersonIdentity.kind.in_([k.value for k in SOCIAL_KINDS]),
            )
            .order_by(PersonIdentity.id)
        )
    ]


def matched_mentions(
    session: Session,
    *,
    workspace_id: int,
    person_id: int,
    before: tuple[datetime, int | None] | None = None,
    limit: int | None = None,
) -> list[AccountMention]:
    """The workspace's mentions posted by the person's social accounts, newest first."""
    accounts = social_accounts_of(session, person_id=person_id)
    if not accounts:
        return []
    return account_mentions(
        session,
        workspace_id=workspace_id,
        accounts=accounts,
        case_folded={k.value for k in CASE_FOLDED_KINDS},
        before=before,
        limit=limit,
    )


def _mention_item(mention: AccountMention) -> TimelineItem:
    # The labels are keyed by the enums, whose members are equal to their string values.
    platform = PLATFORM_LABELS.get(mention.platform)  # type: ignore[call-overload]
    sentiment = SENTIMENT_LABELS.get(mention.sentiment or "")  # type: ignore[call-overload]
    text = " ".join(mention.text.split())
    return TimelineItem(
        event_id=None,
        occurred_at=mention.posted_at,
        kind=MENTION_KIND,
        label=_(MENTIONED).format(platform=_(platform) if platform else mention.platform),
        campaign_id=None,
        campaign_name=None,
        activity_id=None,
        channel=None,
        detail=(text[:EXCERPT] + "…" if len(text) > EXCERPT else text) or None,
        mention_id=mention.id,
        platform=mention.platform,
        url=mention.url,
        sentiment=mention.sentiment,
        sentiment_label=_(sentiment) if sentiment else None,
    )


def get_timeline(
    session: Session,
    *,
    actor: Actor,
    person: Person,
    cursor: str | None = None,
    limit: int = 30,
) -> TimelinePage:
    """The person's events across campaigns and their matched mentions, newest first
    (`person` from `access_person`)."""
    require(actor, READ_PEOPLE)
    limit = max(1, min(limit, MAX_LIMIT))
    start = _decode(cursor)
    actors, participants, codes = actor_ids_of(session, person_id=person.id)
    made = _share_codes(
        session, workspace_id=actor.workspace_id, participants=[str(p) for p in participants]
    )
    codes = sorted(set(codes) | set(made))
    # One order over both: (time, events before mentions, id), newest first. After a mention,
    # the events of its time were shown already; after an event, every mention of its time is
    # still to come.
    event_before = None if start is None else (start[0], 0 if start[2] else start[1])
    mention_before = None if start is None else (start[0], start[1] if start[2] else None)
    events = actor_events(
        session,
        workspace_id=actor.workspace_id,
        actor_ids=actors,
        referrers=codes,
        referred_kinds=BROUGHT_KINDS,
        participant_ids=participants,
        participant_kinds=REWARD_KINDS,
        before=event_before,
        limit=limit + 1,
    )
    mentions = matched_mentions(
        session,
        workspace_id=actor.workspace_id,
        person_id=person.id,
        before=mention_before,
        limit=limit + 1,
    )
    merged: list[tuple[datetime, int, int, EventRecord | AccountMention]] = [
        (e.occurred_at, 1, e.id, e) for e in events
    ] + [(m.posted_at, 0, m.id, m) for m in mentions]
    merged.sort(key=lambda item: item[:3], reverse=True)
    more = len(merged) > limit
    merged = merged[:limit]
    events = [item[3] for item in merged if isinstance(item[3], EventRecord)]
    mine = set(actors)
    # The friends brought: the person behind each joining participant.
    friends = [e.actor_id for e in events if e.actor_id and e.actor_id not in mine]
    brought: dict[str, int] = {}
    if friends:
        rows = session.execute(
            select(PersonIdentity.value, PersonIdentity.person_id).where(
                PersonIdentity.workspace_id == actor.workspace_id,
                PersonIdentity.kind == IdentityKind.PARTICIPANT.value,
                PersonIdentity.value.in_(friends),
            )
        )
        brought = {value: int(person_id) for value, person_id in rows}
    names: dict[int, str | None] = {}
    for campaign_id in {e.campaign_id for e in events if e.campaign_id is not None}:
        ref = get_public_campaign_by_id(session, campaign_id=campaign_id)
        theirs = ref is not None and ref.workspace_id == actor.workspace_id
        names[campaign_id] = ref.campaign.name if ref is not None and theirs else None
    items = []
    for _at, _rank, _id, entry in merged:
        if isinstance(entry, AccountMention):
            items.append(_mention_item(entry))
            continue
        event = entry
        friend = event.actor_id is not None and event.actor_id not in mine
        items.append(
            TimelineItem(
                event_id=event.id,
                occurred_at=event.occurred_at,
                kind=event.kind,
                label=_(BROUGHT) if friend else _(LABELS.get(event.kind, OTHER)),
                campaign_id=event.campaign_id,
                campaign_name=names.get(event.campaign_id) if event.campaign_id else None,
                activity_id=event.activity_id,
                channel=event.channel,
                detail=_detail(event),
                brought_person_id=brought.get(event.actor_id or "") if friend else None,
            )
        )
    next_cursor = None
    if more and merged:
        at, rank, last_id, _entry = merged[-1]
        next_cursor = _encode(at, last_id, mention=rank == 0)
    return TimelinePage(items=items, next_cursor=next_cursor)
