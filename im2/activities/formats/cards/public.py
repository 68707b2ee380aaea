"""The participant's 集卡 page: the shared public frame with two actions, give a card (a
one-time link for a friend) and take a gifted card (`?gift=<code>` shows the offer)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from im2.activities.formats.cards import service
from im2.activities.frame import FrameAction, PublicFrame, Seen, Visit, add_public_frame
from im2.activities.schemas import ActivityKind
from im2.errors import InvalidInput
from im2.i18n import N_, _
from im2.web.participant_forms import ParticipantPost

router = APIRouter(include_in_schema=False)


def _view(session: Session, visit: Visit) -> Seen:
    view = service.view_cards(session, **visit.keywords(), gift_code=visit.query.get("gift"))
    return Seen.of(view, base_url=visit.base_url.rstrip("/"))


def _gift(post: ParticipantPost, slug: str, activity_id: int) -> None:
    raw = post.text("item", limit=12)
    if not raw.isdecimal():
        raise InvalidInput(_("Choose one of your cards to give."), field="item")
    item_id = int(raw)
    post.write(
        lambda session: service.do_gift(
            session, slug=slug, activity_id=activity_id, item_id=item_id, **post.rules()
        ),
        activity_id=activity_id,
    )


def _claim(post: ParticipantPost, slug: str, activity_id: int) -> None:
    code = post.text("gift", limit=24)
    post.write(
        lambda session: service.do_claim(
            session, slug=slug, activity_id=activity_id, code=code, **post.rules()
        ),
        activity_id=activity_id,
    )


add_public_frame(
    router,
    PublicFrame(
        kind=ActivityKind.CARDS,
        page_template="activities/cards/public_cards.html",
        box_template="activities/cards/cards_box.html",
        view=_view,
        actions=(
            FrameAction(
                path="gift",
                refused=N_("Your gift could not be made."),
                done=N_("Your gift link is ready: send it to a friend."),
                done_flag="gifted",
                write=_gift,
            ),
            FrameAction(
                path="claim",
                refused=N_("The gift could not be claimed."),
                done=N_("The card is yours now."),
                done_flag="claimed",
                write=_claim,
            ),
        ),
    ),
)
