"""The participant's check-in page: the shared public frame with one action, check in (a plain
form POST; HTMX swaps the box when there), and the month's calendar of their own days."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from im2.activities.formats.checkin import service
from im2.activities.frame import FrameAction, PublicFrame, Seen, Visit, add_public_frame
from im2.activities.schemas import ActivityKind
from im2.i18n import N_
from im2.web.participant_forms import ParticipantPost

router = APIRouter(include_in_schema=False)


def _view(session: Session, visit: Visit) -> Seen:
    view = service.view_checkin(
        session,
        slug=visit.slug,
        activity_id=visit.activity_id,
        device_id=visit.device_id,
        now=visit.now,
        month=visit.query.get("month"),
    )
    return Seen(context={"view": view}, needs_consent=view.participant_id is None)


def _check_in(post: ParticipantPost, slug: str, activity_id: int) -> None:
    post.write(
        lambda session: service.do_check_in(
            session, slug=slug, activity_id=activity_id, **post.rules()
        ),
        activity_id=activity_id,
    )


add_public_frame(
    router,
    PublicFrame(
        kind=ActivityKind.CHECKIN,
        page_template="activities/checkin/public_checkin.html",
        box_template="activities/checkin/checkin_box.html",
        view=_view,
        actions=(
            FrameAction(
                path="check-in",
                refused=N_("Your check-in could not be accepted."),
                done=N_("Checked in for today. See you tomorrow!"),
                done_flag="done",
                write=_check_in,
            ),
        ),
    ),
)
