"""The participant's draw page: the shared public frame with one action, enter (a plain form
POST; HTMX swaps the box when there); the box shows the prizes, the commitment before the draw
and the seed and winners after it."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from im2.activities import frame
from im2.activities.formats.draw import reads, service
from im2.activities.schemas import ActivityKind
from im2.i18n import N_

router = APIRouter(include_in_schema=False)


def _view(session: Session, visit: frame.Visit) -> frame.Seen:
    record_url = f"/api/v1/public/campaigns/{visit.slug}/draws/{visit.activity_id}/record"
    return frame.Seen.of(reads.view_draw(session, **visit.keywords()), record_url=record_url)


frame.add_public_frame(
    router,
    frame.PublicFrame(
        kind=ActivityKind.DRAW,
        page_template="activities/draw/public_draw.html",
        box_template="activities/draw/draw_box.html",
        view=_view,
        actions=(
            frame.FrameAction(
                path="enter",
                refused=N_("Your entry could not be accepted."),
                done=N_("You are in the draw. Good luck!"),
                done_flag="entered",
                write=frame.simple_write(service.do_enter),
                done_in_place=False,
            ),
        ),
    ),
)
