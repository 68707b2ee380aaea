"""JSON API of 集卡 for participants (the embed frame, apps): the visitor's collection, give a
card through a one-time link, take a gifted card. Cards are drawn by taking part elsewhere in
the campaign (`draws`), so there is no "draw" route."""

from __future__ import annotations

from fastapi import APIRouter

from im2.activities.formats.api import ParticipantApiDep, add_participant_write
from im2.activities.formats.cards import service
from im2.activities.formats.cards.schemas import (
    CardHeld,
    CardsPublic,
    ClaimIn,
    GiftIn,
    GiftRead,
    MyCard,
)
from im2.web.deps import DbDep, NowDep, VisitorDep
from im2.web.params import Id

router = APIRouter(prefix="/api/v1", tags=["cards"])
PUBLIC = "/public/campaigns/{slug}/cards/{activity_id}"


@router.get(
    PUBLIC,
    response_model=CardsPublic,
    tags=["participants"],
    summary="The set as this device holds it: counts, cards it may give, gift links, reward",
)
def public_cards(
    slug: str,
    activity_id: Id,
    visitor: VisitorDep,
    db: DbDep,
    now: NowDep,
    gift: str | None = None,
) -> CardsPublic:
    with db.session() as session:
        view = service.view_cards(
            session,
            slug=slug,
            activity_id=activity_id,
            device_id=visitor.device_id,
            now=now,
            gift_code=gift,
        )
    return CardsPublic(
        activity_id=view.activity.id,
        title=view.activity.title,
        open=view.closed_reason is None,
        closed_reason=view.closed_reason,
        joined=view.participant_id is not None,
        cards=[
            CardHeld(key=c.key, name=c.name, odds=c.odds, count=view.counts.get(c.key, 0))
            for c in view.odds
        ],
        giftable=[c for c in view.mine if c.giftable],
        open_gifts=view.open_gifts,
        set_completed=view.set_completed,
        set_points=view.set_points,
        offer=view.offer,
    )


add_participant_write(
    router,
    PUBLIC + "/gifts",
    service.do_gift,
    name="give",
    body=GiftIn,
    response_model=GiftRead,
    summary="Give one of your cards: a one-time code for a friend (409 while it is on offer)",
    fields=lambda body: {"item_id": body.item_id},
)


# Written out: the code is cut to a gift code's length before the service reads it.
@router.post(
    PUBLIC + "/gifts/{code}/claims",
    response_model=MyCard,
    status_code=201,
    tags=["participants"],
    summary="Take a card a friend gave (once; 409 for a gift taken or expired)",
)
def claim(slug: str, activity_id: Id, code: str, body: ClaimIn, act: ParticipantApiDep) -> MyCard:
    return act.write(
        lambda session: service.do_claim(
            session,
            slug=slug,
            activity_id=activity_id,
            code=code[:24],
            **act.rules(body.consent),
        ),
        consent=body,
    )
