"""集卡 (collect the set): the rules.

- **Drawing** follows the event log (`draws.process_events`, run by `jobs.draw_cards_job`):
  one card per qualifying event, `core.pick(HMAC(seed, event id), weights)`, verifiable once
  the seed (`seed_of`, a row of its own) is shown at the campaign's end.
- **Gifting**: an owner offers a card through a one-time code; while the offer is open the card
  is neither giftable again nor counted for the set. Claiming moves it to the friend, who
  arrives through the giver's share link (a share click and a join referred by its code), so a
  gift is a step in the share tree. Races are decided by conditional UPDATEs: one gift per card
  at a time, one claim per gift.
- **Full set**: one of every card (not on offer) completes the set, once per person (a unique
  key), paying `set_points` through the incentives ledger in the same transaction.

Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.formats.cards import core
from im2.activities.formats.cards.models import (
    CardGift,
    CardItem,
    CardSeed,
    CardSet,
)
from im2.activities.formats.cards.schemas import (
    CardCount,
    CardOdds,
    CardsCreate,
    CardsResults,
    CardsSettings,
    GiftRead,
    GiftView,
    MyCard,
)
from im2.activities.formats.common import add_activity, console_activity, participant_event
from im2.activities.models import Activity
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.campaigns.schemas import CampaignRead, CampaignStatus
from im2.config import get_settings
from im2.errors import Conflict, InvalidInput, NotFound
from im2.events.schemas import EventKind
from im2.i18n import N_, _, use_locale
from im2.incentives import service as incentives
from im2.participation.schemas import Visitor
from im2.sharing import service as sharing
from im2.workspaces.schemas import Actor

GIFT_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
GIFT_CODE_LENGTH = 12


def settings_of(row: Activity) -> CardsSettings:
    return CardsSettings.model_validate(dict(row.settings))


def card_names(settings: CardsSettings) -> dict[str, str]:
    return {c.key: c.name for c in settings.cards}


def published_odds(settings: CardsSettings) -> list[CardOdds]:
    chances = core.odds([c.weight for c in settings.cards])
    return [
        CardOdds(key=c.key, name=c.name, weight=c.weight, odds=p)
        for c, p in zip(settings.cards, chances, strict=True)
    ]


def seed_shown(campaign: CampaignRead) -> bool:
    """The seed is shown once nothing can be drawn any more: the campaign has ended."""
    return campaign.status in (CampaignStatus.ENDED, CampaignStatus.ARCHIVED)


# --- console -----------------------------------------------------------------------------------


def do_create_cards(
    session: Session, *, actor: Actor, campaign_id: int, data: CardsCreate, now: datetime
) -> ActivityRead:
    rules = data.model_dump(include={"cards", "set_points", "gift_hours"})
    row = add_activity(
        session,
        ActivityKind.CARDS,
        actor=actor,
        campaign_id=campaign_id,
        data=data,
        settings=rules,
        now=now,
    )
    seed_of(session, activity_id=row.id, now=now)
    return activities.to_read(row)


def seed_of(session: Session, *, activity_id: int, now: datetime) -> str:
    """The activity's secret seed, made on first need (at creation; for a copied activity, at
    its first draw). Two makers at once: the primary key keeps the first."""
    found = session.get(CardSeed, activity_id)
    if found is not None:
        return found.seed
    try:
        with session.begin_nested():
            session.add(CardSeed(activity_id=activity_id, seed=core.new_seed(), created_at=now))
            session.flush()
    except IntegrityError:
        pass
    made = session.get(CardSeed, activity_id)
    assert made is not None
    return made.seed


def stored_seed(session: Session, *, activity_id: int) -> str | None:
    found = session.get(CardSeed, activity_id)
    return found.seed if found is not None else None


def _load_console(session: Session, *, actor: Actor, activity_id: int) -> Activity:
    return console_activity(session, actor=actor, activity_id=activity_id, kind=ActivityKind.CARDS)


def _count(session: Session, query: Any) -> int:
    return int(session.scalar(query) or 0)


def cards_results(session: Session, *, actor: Actor, activity_id: int) -> CardsResults:
    row = _load_console(session, actor=actor, activity_id=activity_id)
    settings = settings_of(row)
    drawn = dict(
        session.execute(
            select(CardItem.card, func.count())
            .where(CardItem.activity_id == row.id)
            .group_by(CardItem.card)
        ).all()
    )
    gifts = (CardGift.activity_id == row.id,)
    return CardsResults(
        activity_id=row.id,
        cards=[
            CardCount(key=c.key, name=c.name, drawn=int(drawn.get(c.key, 0)))
            for c in settings.cards
        ],
        collectors=_count(
            session,
            select(func.count(func.distinct(CardItem.owner_id))).where(
                CardItem.activity_id == row.id
            ),
        ),
        gifts_made=_count(session, select(func.count()).select_from(CardGift).where(*gifts)),
        gifts_claimed=_count(
            session,
            select(func.count())
            .select_from(CardGift)
            .where(*gifts, CardGift.claimed_by_id.is_not(None)),
        ),
        sets_completed=_count(
            session,
            select(func.count()).select_from(CardSet).where(CardSet.activity_id == row.id),
        ),
    )


EXPORT_COLUMNS = (
    "card_id",
    "card_key",
    "card_name",
    "drawn_by_participant_id",
    "owner_participant_id",
    "source_event_id",
    "ticket",
    "drawn_at",
    "set_completed_by_owner",
)


def export_cards(session: Session, *, actor: Actor, activity_id: int) -> Iterator[dict[str, Any]]:
    """One row per card drawn, with its ticket (anyone with the seed can check the card)."""
    row = _load_console(session, actor=actor, activity_id=activity_id)
    names = card_names(settings_of(row))
    completed = set(
        session.scalars(select(CardSet.participant_id).where(CardSet.activity_id == row.id))
    )
    items = session.scalars(
        select(CardItem).where(CardItem.activity_id == row.id).order_by(CardItem.id)
    )
    for item in items:
        yield {
            "card_id": item.id,
            "card_key": item.card,
            "card_name": names.get(item.card, item.card),
            "drawn_by_participant_id": item.drawn_by_id,
            "owner_participant_id": item.owner_id,
            "source_event_id": item.source_event_id,
            "ticket": item.ticket,
            "drawn_at": item.drawn_at.isoformat(),
            "set_completed_by_owner": item.owner_id in completed,
        }


def _ledger_text(message: str, **values: object) -> str:
    """The ledger keeps a reward's reason in the installation's language (as referral does):
    the participant's page and the console both show the stored words."""
    with use_locale(get_settings().default_locale):
        return _(message).format(**values)[:200]


def check_set(session: Session, *, activity: Activity, participant_id: int, now: datetime) -> bool:
    """Complete the person's set if they hold one of every card (not on offer as a gift):
    once per person (a unique key), the points paid in the same transaction. True when this
    call completed it."""
    settings = settings_of(activity)
    held = set(
        session.scalars(
            select(CardItem.card).where(
                CardItem.activity_id == activity.id,
                CardItem.owner_id == participant_id,
                (CardItem.gift_until.is_(None)) | (CardItem.gift_until <= now),
            )
        )
    )
    if not {c.key for c in settings.cards} <= held:
        return False
    try:
        with session.begin_nested():
            session.add(
                CardSet(
                    activity_id=activity.id,
                    participant_id=participant_id,
                    points=settings.set_points,
                    completed_at=now,
                )
            )
            session.flush()
    except IntegrityError:
        return False  # completed before: the reward is once per person
    incentives.award_points(
        session,
        workspace_id=activity.workspace_id,
        campaign_id=activity.campaign_id,
        participant_id=participant_id,
        points=settings.set_points,
        key=f"cards:{activity.id}:set:{participant_id}",
        reason=_ledger_text(N_("Collected the full set: {title}"), title=activity.title),
        now=now,
    )
    participant_event(
        session,
        EventKind.CARD_SET_COMPLETED,
        activity=activity,
        participant_id=participant_id,
        now=now,
        properties={"points": settings.set_points},
    )
    return True


# --- participants: gifting -----------------------------------------------------------------------


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def do_gift(
    session: Session,
    *,
    slug: str,
    activity_id: int,
    item_id: int,
    visitor: Visitor,
    now: datetime,
    **_rules: Any,
) -> GiftRead:
    """Offer one of your cards through a one-time code, open for `gift_hours`. A card on offer
    cannot be offered again until the offer is claimed or has expired (two offers at once:
    one wins, the other gets 409)."""
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.CARDS
    )
    activities.require_open(public)
    settings = settings_of(row)
    me = activities.participant_for(session, public=public, device_id=visitor.device_id)
    item = session.get(CardItem, item_id)
    if item is None or item.activity_id != row.id:
        raise NotFound(_("There is no such card."))
    if me is None or item.owner_id != me.id:
        raise Conflict(_("You do not have this card, so you cannot give it away."))
    expires = now + timedelta(hours=settings.gift_hours)
    offered = session.execute(
        update(CardItem)
        .where(
            CardItem.id == item.id,
            CardItem.owner_id == me.id,
            (CardItem.gift_until.is_(None)) | (CardItem.gift_until <= now),
        )
        .values(gift_until=expires)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(offered) != 1:
        raise Conflict(_("This card is already on offer as a gift."))
    link = sharing.do_get_link(
        session,
        workspace_id=public.workspace_id,
        campaign_id=public.campaign.id,
        participant_id=me.id,
        now=now,
    )
    code = "".join(secrets.choice(GIFT_ALPHABET) for _ in range(GIFT_CODE_LENGTH))
    session.add(
        CardGift(
            activity_id=row.id,
            item_id=item.id,
            code=code,
            giver_id=me.id,
            share_code=link.code,
            created_at=now,
            expires_at=expires,
        )
    )
    session.flush()
    participant_event(
        session,
        EventKind.CARD_GIFTED,
        activity=row,
        participant_id=me.id,
        now=now,
        visitor=visitor,
        referrer=link.code,
        properties={"card": item.card, "item": item.id},
    )
    return GiftRead(
        code=code, card_name=card_names(settings).get(item.card, ""), expires_at=expires
    )


def _gift_refusal(gift: CardGift, *, now: datetime) -> str | None:
    if gift.claimed_by_id is not None:
        return _("This gift has already been claimed.")
    if gift.expires_at <= now:
        return _("This gift link has expired.")
    return None


def _find_gift(session: Session, *, activity_id: int, code: str) -> CardGift:
    gift = session.scalar(select(CardGift).where(CardGift.code == code.strip().lower()[:24]))
    if gift is None or gift.activity_id != activity_id:
        raise NotFound(_("There is no gift at this link."))
    return gift


def do_claim(
    session: Session,
    *,
    slug: str,
    activity_id: int,
    code: str,
    visitor: Visitor,
    consented: bool,
    seconds_on_page: float | None,
    risk_threshold: float,
    identities_per_ip_hour: int,
    now: datetime,
) -> MyCard:
    """Take a gifted card. The friend arrives through the giver's share link (a share click,
    and a join referred by its code), so the gift is a step in the share tree. Of two claims
    of one gift at once, one gets the card and the other 409."""
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.CARDS
    )
    activities.require_open(public)
    if not code.strip():
        raise InvalidInput(_("The gift code is missing."), field="gift")
    gift = _find_gift(session, activity_id=row.id, code=code)
    known = activities.participant_for(session, public=public, device_id=visitor.device_id)
    if known is not None and known.id == gift.giver_id:
        raise Conflict(_("This is your own gift: send the link to a friend."))
    refusal = _gift_refusal(gift, now=now)
    if refusal is not None:
        raise Conflict(refusal)
    if known is None:
        # A newcomer: the click on the giver's link, then a join it refers (first touch).
        target = sharing.find_click_target(session, code=gift.share_code)
        sharing.do_record_click(session, target=target, visitor=visitor, now=now)
        visitor = replace(visitor, referrer=visitor.referrer or gift.share_code)
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
    claimer = acting.participant.id
    taken = session.execute(
        update(CardGift)
        .where(
            CardGift.id == gift.id,
            CardGift.claimed_by_id.is_(None),
            CardGift.expires_at > now,
        )
        .values(claimed_by_id=claimer, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(taken) != 1:
        raise Conflict(_("This gift has already been claimed."))
    moved = session.execute(
        update(CardItem)
        .where(CardItem.id == gift.item_id, CardItem.owner_id == gift.giver_id)
        .values(owner_id=claimer, gift_until=None)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(moved) != 1:  # cannot happen while gifts are the only way cards move
        raise Conflict(_("This gift is no longer available."))
    item = session.get(CardItem, gift.item_id)
    assert item is not None
    session.refresh(item)
    participant_event(
        session,
        EventKind.CARD_CLAIMED,
        activity=row,
        participant_id=claimer,
        now=now,
        visitor=visitor,
        referrer=gift.share_code,
        properties={"card": item.card, "item": item.id, "giver": gift.giver_id},
    )
    check_set(session, activity=row, participant_id=claimer, now=now)
    name = card_names(settings_of(row)).get(item.card, item.card)
    return MyCard(item_id=item.id, key=item.card, name=name, giftable=True)


# --- participants: the page ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CardsView:
    campaign: CampaignRead
    activity: ActivityRead
    closed_reason: str | None
    odds: list[CardOdds]
    commitment: str | None  # SHA-256 of the seed, public from the start
    seed: str | None  # shown once the campaign has ended
    participant_id: int | None
    mine: list[MyCard]
    counts: dict[str, int]
    open_gifts: list[GiftRead]
    set_completed: bool
    set_points: int
    offer: GiftView | None


def view_cards(
    session: Session,
    *,
    slug: str,
    activity_id: int,
    device_id: str,
    now: datetime,
    gift_code: str | None = None,
) -> CardsView:
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.CARDS
    )
    settings = settings_of(row)
    names = card_names(settings)
    participant = activities.participant_for(session, public=public, device_id=device_id)
    mine: list[MyCard] = []
    gifts: list[GiftRead] = []
    completed = False
    if participant is not None:
        items = session.scalars(
            select(CardItem)
            .where(CardItem.activity_id == row.id, CardItem.owner_id == participant.id)
            .order_by(CardItem.id)
        )
        mine = [
            MyCard(
                item_id=i.id,
                key=i.card,
                name=names.get(i.card, i.card),
                giftable=i.gift_until is None or i.gift_until <= now,
            )
            for i in items
        ]
        gifts = [
            GiftRead(code=g.code, card_name=names.get(card, card), expires_at=g.expires_at)
            for g, card in session.execute(
                select(CardGift, CardItem.card)
                .join(CardItem, CardItem.id == CardGift.item_id)
                .where(
                    CardGift.activity_id == row.id,
                    CardGift.giver_id == participant.id,
                    CardGift.claimed_by_id.is_(None),
                    CardGift.expires_at > now,
                )
                .order_by(CardGift.id)
            )
        ]
        completed = (
            session.scalar(
                select(CardSet.id).where(
                    CardSet.activity_id == row.id, CardSet.participant_id == participant.id
                )
            )
            is not None
        )
    offer = None
    if gift_code:
        found = session.scalar(select(CardGift).where(CardGift.code == gift_code[:24]))
        if found is not None and found.activity_id == row.id:
            item = session.get(CardItem, found.item_id)
            reason = _gift_refusal(found, now=now)
            if participant is not None and participant.id == found.giver_id:
                reason = _("This is your own gift: send the link to a friend.")
            offer = GiftView(
                code=found.code,
                card_name=names.get(item.card, "") if item else "",
                giver_id=found.giver_id,
                open=reason is None,
                reason=reason,
            )
    seed = stored_seed(session, activity_id=row.id)
    counts = {c.key: 0 for c in settings.cards}
    for card in mine:
        counts[card.key] = counts.get(card.key, 0) + 1
    return CardsView(
        campaign=public.campaign,
        activity=activities.to_read(row),
        closed_reason=activities.closed_reason(public.campaign),
        odds=published_odds(settings),
        commitment=core.commitment_of(seed) if seed else None,
        seed=seed if seed and seed_shown(public.campaign) else None,
        participant_id=participant.id if participant else None,
        mine=mine,
        counts=counts,
        open_gifts=gifts,
        set_completed=completed,
        set_points=settings.set_points,
        offer=offer,
    )
