"""Share links on the participant side: /s/<code> (count, remember, redirect), the personal
share page with its QR code."""

from __future__ import annotations

import dataclasses
import io
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import FileResponse, RedirectResponse, Response

from im2.campaigns import service as campaigns
from im2.errors import NotFound
from im2.i18n import _
from im2.participation import service as participation
from im2.participation.schemas import ParticipantRead, Visitor
from im2.sharing import service
from im2.sharing.schemas import SHARE_CHANNELS, channel_of, utm_of
from im2.web.deps import (
    CHANNEL_COOKIE,
    LAST_REFERRER_COOKIE,
    REFERRER_COOKIE,
    CsrfForm,
    DbDep,
    NowDep,
    SettingsDep,
    VisitorDep,
    get_visitor,
)
from im2.web.links import public_base_url
from im2.web.page_views import VIA_COOKIE, VIA_MAX_AGE
from im2.web.params import Id
from im2.web.templating import env, render
from im2.workspaces import branding
from im2.workspaces.branding import BRANDS, BrandView

router = APIRouter(include_in_schema=False)
REFERRER_DAYS = 30


def public_brand(request: Request) -> BrandView | None:
    """The brand of the campaign a public page belongs to (`/c/<slug>/...`), for the shared
    layout; None elsewhere. Cached briefly: every public page asks."""
    slug = request.path_params.get("slug")
    if not isinstance(slug, str) or not slug:
        return None
    hit, brand = BRANDS.get(slug)
    if hit:
        return brand
    with request.app.state.db.session() as session:
        found = campaigns.get_public_campaign(session, slug=slug)
        brand = (
            None
            if found is None
            else branding.resolve_brand(
                session, workspace_id=found.workspace_id, campaign_id=found.campaign.id
            )
        )
    BRANDS.put(slug, brand)
    return brand


env.globals["public_brand"] = public_brand


@router.get("/media/brand/{workspace_id}/{name}")
def brand_image(workspace_id: Id, name: str, settings: SettingsDep) -> Response:
    """A brand's logo or cover: public by nature (every public page of the brand shows it);
    the random name changes whenever the image does, so it may be cached for long."""
    path = branding.brand_image_path(settings.media_path, workspace_id=workspace_id, name=name)
    if path is None:
        raise NotFound(_("There is no such image."))
    return FileResponse(
        path,
        media_type=branding.MEDIA_TYPES[path.suffix.lstrip(".")],
        headers={"Cache-Control": "public, max-age=604800", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/s/{code}")
async def follow(request: Request, code: str) -> Response:
    """The hottest path of a fission campaign: everything cheap happens on the event loop, the
    lookup and the writes (counter, `share.clicked`) go to the database's group commit with the
    other clicks of the moment, and the redirect is sent once they have committed."""
    state = request.app.state
    query = dict(request.query_params)
    utm = utm_of(query)
    channel = channel_of(query, utm)
    visitor = dataclasses.replace(get_visitor(request, state.settings), channel=channel)
    click = service.Click(code=code, visitor=visitor, now=state.clock.now(), utm=utm)
    target = await state.db.group_commit_here(service.record_clicks, click)
    if isinstance(target, str):
        raise service.refusal(target)
    onward = urlencode({"ch": channel, **utm})
    response = RedirectResponse(f"/c/{target.slug}?{onward}", status_code=303)
    age = REFERRER_DAYS * 24 * 3600
    if not request.cookies.get(REFERRER_COOKIE):  # first touch wins the attribution
        response.set_cookie(REFERRER_COOKIE, code, max_age=age, samesite="lax", httponly=True)
    response.set_cookie(LAST_REFERRER_COOKIE, code, max_age=age, samesite="lax", httponly=True)
    response.set_cookie(CHANNEL_COOKIE, channel, max_age=age, samesite="lax")
    # The page this lands on records its view as having come through the link.
    response.set_cookie(VIA_COOKIE, code, max_age=VIA_MAX_AGE, samesite="lax", httponly=True)
    return response


def _share_url(request: Request, code: str, channel: str) -> str:
    return f"{public_base_url(request)}/s/{code}?ch={channel}"


def own_channel(user_agent: str) -> str:
    """The channel tag of the link a participant copies or shares: inside WeChat or Weibo's
    own browser that app, else "link" (the system share sheet does not tell where it went)."""
    if "MicroMessenger" in user_agent:
        return "wechat"
    if "Weibo" in user_agent:
        return "weibo"
    return "link"


WEIBO_SHARE = "https://service.weibo.com/share/share.php"


def weibo_intent(url: str, title: str) -> str:
    """Weibo's web share page, filled in with the link and the title (Douyin has none: its
    link is copied, or the poster posted)."""
    return f"{WEIBO_SHARE}?{urlencode({'url': url, 'title': title})}"


def _visiting(
    session: Session, slug: str, visitor: Visitor
) -> tuple[campaigns.PublicCampaignRef, ParticipantRead | None]:
    """The campaign behind the link (404 unless visitors may see it) and the visitor's
    participant in its workspace (None before they took part)."""
    found = campaigns.get_visible_campaign(session, slug=slug)
    participant = participation.get_participant(
        session, workspace_id=found.workspace_id, device_id=visitor.device_id
    )
    return found, participant


@router.get("/c/{slug}/share")
def share_page(
    request: Request, slug: str, db: DbDep, visitor: VisitorDep, now: NowDep
) -> Response:
    """One's own link first, ready to copy or hand to the phone's share sheet, with the poster
    one tap away. Someone who has taken part gets their link here at once (one per person and
    campaign, so opening the page again gives the same one)."""
    with db.transaction() as session:
        found, participant = _visiting(session, slug, visitor)
        link = None
        if participant is not None:
            link = service.do_get_link(
                session,
                workspace_id=found.workspace_id,
                campaign_id=found.campaign.id,
                participant_id=participant.id,
                now=now,
            )
    user_agent = request.headers.get("user-agent", "")
    own = own_channel(user_agent)
    links = (
        [
            (channel, label, _share_url(request, link.code, channel))
            for channel, label in SHARE_CHANNELS
            if channel not in ("qr", "link")
        ]
        if link
        else []
    )
    return render(
        request,
        "sharing/share.html",
        {
            "campaign": found.campaign,
            "joined": participant is not None,
            "link": link,
            "own_url": _share_url(request, link.code, own) if link else None,
            "links": links,
            "in_wechat": "MicroMessenger" in user_agent,
            "weibo_intent": next(
                (weibo_intent(url, found.campaign.name) for ch, _l, url in links if ch == "weibo"),
                None,
            ),
        },
    )


@router.post("/c/{slug}/share")
def create_link(slug: str, form: CsrfForm, db: DbDep, visitor: VisitorDep, now: NowDep) -> Response:
    with db.transaction() as session:
        found, participant = _visiting(session, slug, visitor)
        if participant is None:
            raise NotFound(_("Take part first; then you get your own link to share."))
        service.do_get_link(
            session,
            workspace_id=found.workspace_id,
            campaign_id=found.campaign.id,
            participant_id=participant.id,
            now=now,
        )
    return RedirectResponse(f"/c/{slug}/share", status_code=303)


@router.get("/c/{slug}/share/poster.png")
def share_poster(
    request: Request, slug: str, db: DbDep, visitor: VisitorDep, now: NowDep
) -> Response:
    """The participant's own share poster (their link's QR code); counts a poster.downloaded."""
    from im2.events.schemas import ActorType, EventKind
    from im2.events.service import record_event
    from im2.i18n import get_locale
    from im2.sharing.poster import render_poster

    with db.transaction() as session:
        found, participant = _visiting(session, slug, visitor)
        link = None
        if participant is not None:
            link = service.get_link(
                session, campaign_id=found.campaign.id, participant_id=participant.id
            )
        if participant is None or link is None:
            raise NotFound(_("Take part first; then you get your own link to share."))
        record_event(
            session,
            kind=EventKind.POSTER_DOWNLOADED,
            occurred_at=now,
            workspace_id=found.workspace_id,
            campaign_id=found.campaign.id,
            actor_type=ActorType.PARTICIPANT,
            actor_id=participant.id,
            referrer=link.code,
        )
    png = render_poster(
        title=found.campaign.name,
        subtitle=found.campaign.description.strip().split("\n", 1)[0] or None,
        nickname=participant.nickname or _("A friend"),
        url=_share_url(request, link.code, "qr"),
        locale=get_locale(),
    )
    return Response(
        png,
        media_type="image/png",
        headers={
            "Content-Disposition": f'inline; filename="{slug}-poster.png"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/s/{code}/qr.{fmt}")
def qr_code(request: Request, code: str, fmt: str, db: DbDep) -> Response:
    with db.session() as session:
        if service.get_link_by_code(session, code=code) is None:
            raise NotFound(_("This share link does not exist."))
    target = _share_url(request, code, "qr")
    buffer = io.BytesIO()
    if fmt == "svg":
        qrcode.make(target, image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
        media_type = "image/svg+xml"
    elif fmt == "png":
        qrcode.make(target, box_size=8, border=2).save(buffer)
        media_type = "image/png"
    else:
        raise NotFound(_("Not found."))
    return Response(
        buffer.getvalue(), media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
    )
