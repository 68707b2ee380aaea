"""The participant's draw page: the shared public frame with one action, enter (a plain form
POST; HTMX swaps the box when there); the box shows the prizes, the commitment before the draw
and the seed and winners after it."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from im2.activities.formats.draw import reads, service
from im2.activities.frame import FrameAction, PublicFrame, Seen, Visit, add_public_frame
from im2.activities.schemas import ActivityKind
from im2.i18n import N_
from im2.web.participant_forms import ParticipantPost

router = APIRouter(include_in_schema=False)


def _view(session: Session, visit: Visit) -> Seen:
    view = reads.view_draw(
        session,
        slug=visit.slug,
        activity_id=visit.activity_id,
        device_id=visit.device_id,
        now=visit.now,
    )
    record_url = f"/api/v1/public/campaigns/{visit.slug}/draws/{visit.activity_id}/record"
    return Seen(
        context={"view": view, "record_url": record_url},
        needs_consent=view.participant_id is None,
    )


def _enter(post: ParticipantPost, slug: str, activity_id: int) -> None:
    post.write(
        lambda session: service.do_enter(
            session, slug=slug, activity_id=activity_id, **post.rules()
        ),
        activity_id=activity_id,
    )


add_public_frame(
    router,
    PublicFrame(
        kind=ActivityKind.DRAW,
        page_template="activities/draw/public_draw.html",
        box_template="activities/draw/draw_box.html",
        view=_view,
        actions=(
            FrameAction(
                path="enter",
                refused=N_("Your entry could not be accepted."),
                done=N_("You are in the draw. Good luck!"),
                done_flag="entered",
                write=_enter,
                done_in_place=False,
            ),
        ),
    ),
)
