"""The participant's check-in page: the shared public frame with one action, check in (a plain
form POST; HTMX swaps the box when there), and the month's calendar of their own days."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from im2.activities import frame
from im2.activities.formats.checkin import service
from im2.activities.schemas import ActivityKind
from im2.i18n import N_

router = APIRouter(include_in_schema=False)


def _view(session: Session, visit: frame.Visit) -> frame.Seen:
    month = visit.query.get("month")
    return frame.Seen.of(service.view_checkin(session, **visit.keywords(), month=month))


frame.add_public_frame(
    router,
    frame.PublicFrame(
        kind=ActivityKind.CHECKIN,
        page_template="activities/checkin/public_checkin.html",
        box_template="activities/checkin/checkin_box.html",
        view=_view,
        actions=(
            frame.FrameAction(
                path="check-in",
                refused=N_("Your check-in could not be accepted."),
                done=N_("Checked in for today. See you tomorrow!"),
                done_flag="done",
                write=frame.simple_write(service.do_check_in),
            ),
        ),
    ),
)
