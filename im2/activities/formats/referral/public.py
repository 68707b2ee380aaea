"""The participant's referral page: my invite link and QR code, my progress to each milestone,
my invited friends (nicknames masked), the inviters' leaderboard, and for a visitor who came
through a friend's link, who invited them and what they get. The shared public frame with one
action, get my link (a plain form POST that redirects; works without JavaScript)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from im2.activities.formats.referral import reads, service
from im2.activities.formats.referral.schemas import QUALIFY_LABELS, STATUS_LABELS
from im2.activities.frame import FrameAction, PublicFrame, Seen, Visit, add_public_frame
from im2.activities.schemas import ActivityKind
from im2.i18n import N_
from im2.sharing.schemas import SHARE_CHANNELS
from im2.web.deps import REFERRER_COOKIE
from im2.web.participant_forms import ParticipantPost

router = APIRouter(include_in_schema=False)


def _view(session: Session, visit: Visit) -> Seen:
    view = reads.view_referral(
        session,
        slug=visit.slug,
        activity_id=visit.activity_id,
        device_id=visit.device_id,
        referrer=visit.cookies.get(REFERRER_COOKIE),
    )
    base = visit.base_url
    links = []
    if view.link is not None:
        links = [
            (channel, label, f"{base}/s/{view.link.code}?ch={channel}")
            for channel, label in SHARE_CHANNELS
        ]
    context = {
        "view": view,
        "links": links,
        "my_url": f"{base}/s/{view.link.code}" if view.link else None,
        "qualify_labels": QUALIFY_LABELS,
        "status_labels": STATUS_LABELS,
    }
    return Seen(context=context, needs_consent=view.participant_id is None)


def _get_link(post: ParticipantPost, slug: str, activity_id: int) -> None:
    post.write(
        lambda session: service.do_get_link(
            session, slug=slug, activity_id=activity_id, **post.rules()
        )
    )


add_public_frame(
    router,
    PublicFrame(
        kind=ActivityKind.REFERRAL,
        page_template="activities/referral/public_referral.html",
        # The page has no part swapped in place: an HTMX post gets the whole page.
        box_template="activities/referral/public_referral.html",
        view=_view,
        actions=(
            FrameAction(
                path="link",
                refused=N_("Your request could not be accepted."),
                done=N_("Your invite link is ready. Share it with friends!"),
                done_flag="linked",
                write=_get_link,
            ),
        ),
    ),
)
