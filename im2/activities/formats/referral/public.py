"""The participant's referral page: my invite link and QR code, my progress to each milestone,
my invited friends (nicknames masked), the inviters' leaderboard, and for a visitor who came
through a friend's link, who invited them and what they get. The shared public frame with one
action, get my link (a plain form POST that redirects; works without JavaScript)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from im2.activities import frame
from im2.activities.formats.referral import reads, service
from im2.activities.formats.referral.schemas import QUALIFY_LABELS, STATUS_LABELS
from im2.activities.schemas import ActivityKind
from im2.i18n import N_
from im2.sharing.schemas import SHARE_CHANNELS
from im2.web.deps import REFERRER_COOKIE

router = APIRouter(include_in_schema=False)


def _view(session: Session, visit: frame.Visit) -> frame.Seen:
    referrer = visit.cookies.get(REFERRER_COOKIE)
    view = reads.view_referral(session, **visit.keywords(now=False), referrer=referrer)
    base = visit.base_url
    links = []
    if view.link is not None:
        links = [
            (channel, label, f"{base}/s/{view.link.code}?ch={channel}")
            for channel, label in SHARE_CHANNELS
        ]
    return frame.Seen.of(
        view,
        links=links,
        my_url=f"{base}/s/{view.link.code}" if view.link else None,
        qualify_labels=QUALIFY_LABELS,
        status_labels=STATUS_LABELS,
    )


frame.add_public_frame(
    router,
    frame.PublicFrame(
        kind=ActivityKind.REFERRAL,
        page_template="activities/referral/public_referral.html",
        # The page has no part swapped in place: an HTMX post gets the whole page.
        box_template="activities/referral/public_referral.html",
        view=_view,
        actions=(
            frame.FrameAction(
                path="link",
                refused=N_("Your request could not be accepted."),
                done=N_("Your invite link is ready. Share it with friends!"),
                done_flag="linked",
                write=frame.simple_write(service.do_get_link, announce=False),
            ),
        ),
    ),
)
