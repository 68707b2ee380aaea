"""The participant's referral page: my invite link and QR code, my progress to each milestone,
my invited friends (nicknames masked), the inviters' leaderboard, and for a visitor who came
through a friend's link, who invited them and what they get. Works without JavaScript: the
only action is a plain form POST that redirects."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from im2.activities import service as activities
from im2.activities.formats.referral import reads
from im2.activities.formats.referral.schemas import QUALIFY_LABELS, STATUS_LABELS
from im2.activities.schemas import ActivityKind
from im2.errors import IM2Error, NotFound
from im2.i18n import _
from im2.participation.schemas import CONSENT_TEXT
from im2.sharing import service as sharing
from im2.sharing.schemas import SHARE_CHANNELS
from im2.web.deps import (
    REFERRER_COOKIE,
    CsrfForm,
    DbDep,
    LimiterDep,
    NowDep,
    SettingsDep,
    VisitorDep,
    remember_channel,
    seconds_on_page,
    shown_token,
)
from im2.web.params import Id
from im2.web.templating import render

router = APIRouter(include_in_schema=False)
HONEYPOT = "website"


def page_path(slug: str, activity_id: int) -> str:
    return f"/c/{slug}/referral/{activity_id}"


def _page(
    request: Request,
    *,
    slug: str,
    activity_id: int,
    db: DbDep,
    device_id: str,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    with db.session() as session:
        view = reads.view_referral(
            session,
            slug=slug,
            activity_id=activity_id,
            device_id=device_id,
            referrer=request.cookies.get(REFERRER_COOKIE),
        )
    base = request.app.state.settings.base_url
    links = []
    if view.link is not None:
        links = [
            (channel, label, f"{base}/s/{view.link.code}?ch={channel}")
            for channel, label in SHARE_CHANNELS
        ]
    return render(
        request,
        "activities/referral/public_referral.html",
        {
            "view": view,
            "error": error,
            "notice": notice,
            "links": links,
            "my_url": f"{base}/s/{view.link.code}" if view.link else None,
            "qualify_labels": QUALIFY_LABELS,
            "status_labels": STATUS_LABELS,
            "consent_text": CONSENT_TEXT,
            "needs_consent": view.participant_id is None,
            "shown": shown_token(request),
            "honeypot": HONEYPOT,
            "action": page_path(slug, activity_id) + "/link",
        },
        status_code=status_code,
    )


@router.get("/c/{slug}/referral/{activity_id}")
def referral_page(
    request: Request, slug: str, activity_id: Id, db: DbDep, visitor: VisitorDep
) -> Response:
    notice = None
    if request.query_params.get("linked"):
        notice = _("Your invite link is ready. Share it with friends!")
    response = _page(
        request,
        slug=slug,
        activity_id=activity_id,
        db=db,
        device_id=visitor.device_id,
        notice=notice,
    )
    return remember_channel(request, response)


@router.post("/c/{slug}/referral/{activity_id}/link")
def get_link(
    request: Request,
    slug: str,
    activity_id: Id,
    form: CsrfForm,
    db: DbDep,
    limiter: LimiterDep,
    visitor: VisitorDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    """Join (with consent, the first time) and get one's own invite link for the campaign."""
    try:
        if form.get(HONEYPOT):
            raise IM2Error(_("Your request could not be accepted."))
        limiter.hit(device_id=visitor.device_id, ip=visitor.ip)
        with db.transaction() as session:
            public, _row = activities.public_activity(
                session, slug=slug, activity_id=activity_id, kind=ActivityKind.REFERRAL
            )
            activities.require_open(public)
            acting = activities.join_and_assess(
                session,
                public=public,
                visitor=visitor,
                consented=form.get("consent") == "yes",
                seconds_on_page=seconds_on_page(request, str(form.get("shown") or "")),
                risk_threshold=settings.risk_hold_threshold,
                identities_per_ip_hour=settings.risk_identities_per_ip_hour,
                now=now,
            )
            sharing.do_get_link(
                session,
                workspace_id=public.workspace_id,
                campaign_id=public.campaign.id,
                participant_id=acting.participant.id,
                now=now,
            )
    except IM2Error as exc:
        if isinstance(exc, NotFound):
            raise
        return _page(
            request,
            slug=slug,
            activity_id=activity_id,
            db=db,
            device_id=visitor.device_id,
            error=exc.message,
            status_code=exc.status_code,
        )
    return RedirectResponse(page_path(slug, activity_id) + "?linked=1", status_code=303)
