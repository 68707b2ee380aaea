"""WeChat on the public pages: the JS-SDK share card of a page opened inside WeChat, and the web
OAuth round trip that binds the visitor's OpenID (docs/wechat.md).

A page inside WeChat whose workspace has an official account carries two scripts (the vendored
JS-SDK and `wechat.js`, from `wechat_scripts` in the shared layout); `wechat.js` asks
`/c/<slug>/wechat/card` for `wx.config` signed for its own address and the card to show. When
the workspace has no account, or WeChat refuses it, there is no card and the page works as
anywhere else.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import JSONResponse, RedirectResponse, Response

from im2.campaigns import service as campaigns
from im2.errors import IM2Error, InvalidInput, NotFound
from im2.i18n import _
from im2.participation import service as participation
from im2.sharing import service as sharing
from im2.web.deps import DbDep, NowDep, SettingsDep, VisitorDep
from im2.web.errors import error_body
from im2.web.links import public_base_url
from im2.web.templating import env
from im2.wechat import service, tokens
from im2.wechat.client import WechatError
from im2.workspaces import branding

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

WX_COOKIE = "im2_wx"  # "1": this browser signed in with WeChat here; "0": it declined
NEXT_COOKIE = "im2_wx_next"  # where to go back to after WeChat's page (the state is short)
WX_COOKIE_DAYS = 30
# WeChat sends the visitor back here; only the domain must match the account's 网页授权域名.
CALLBACK_PATH = "/c/{slug}/wechat/callback"
JSSDK = "/static/vendor/jweixin-1.6.5.js"


class Unavailable(IM2Error):
    """WeChat could not be reached: the visitor is asked to try again."""

    status_code = 503
    code = "wechat_unavailable"


def in_wechat(request: Request) -> bool:
    """WeChat's in-app browser (its User-Agent names MicroMessenger)."""
    return "MicroMessenger" in request.headers.get("user-agent", "")


class _Accounts:
    """Which campaigns' workspaces have an account, for a few seconds (every page view inside
    WeChat asks, and the console clears it when an account changes)."""

    TTL = 30.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, bool]] = {}

    def get(self, request: Request, slug: str) -> bool:
        hit = self._seen.get(slug)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        with request.app.state.db.session() as session:
            found = campaigns.get_public_campaign(session, slug=slug)
            has = found is not None and service.has_account(
                session, workspace_id=found.workspace_id
            )
        with self._lock:
            self._seen[slug] = (time.monotonic() + self.TTL, has)
        return has

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


ACCOUNTS = _Accounts()


def wechat_scripts(request: Request) -> Markup:
    """The shared layout's WeChat scripts: only inside WeChat, on a campaign's page, when its
    workspace has an official account."""
    slug = request.path_params.get("slug")
    if not in_wechat(request) or not isinstance(slug, str) or not slug:
        return Markup("")
    if not ACCOUNTS.get(request, slug):
        return Markup("")
    card = f"/c/{slug}/wechat/card"
    template = Markup(
        '<script src="{}" defer></script><script src="/static/wechat.js" data-card="{}" defer>'
        "</script>"
    )
    return template.format(JSSDK, card)


env.globals["wechat_scripts"] = wechat_scripts
env.globals["in_wechat"] = in_wechat


def _store(request: Request) -> tokens.TokenStore:
    return tokens.store_for(request.app.state.db, request.app.state.settings.redis_url)


def _brand_card(base: str, workspace_id: int, campaign_id: int, session: Any) -> tuple[str, str]:
    """(the brand's name, the absolute address of its logo or cover, or "")."""
    brand = branding.resolve_brand(session, workspace_id=workspace_id, campaign_id=campaign_id)
    picked = brand.logo_url or brand.cover_url
    return brand.name, f"{base}{picked}" if picked else ""


@router.get("/c/{slug}/wechat/card")
def share_card(
    request: Request, slug: str, url: str, db: DbDep, visitor: VisitorDep, now: NowDep
) -> Response:
    """`wx.config` signed for `url` (the page's address, #fragment dropped) and the card:
    the campaign's title and description, the brand's image and the visitor's own share link
    (made on asking, one per person and campaign, as on the share page)."""
    base = public_base_url(request)
    page = url.split("#", 1)[0]
    if not page.startswith(f"{base}/c/{slug}"):
        return JSONResponse(
            error_body("invalid", _("This address is not one of this campaign's pages."), "url"),
            status_code=422,
        )
    with db.session() as session:
        found = campaigns.get_visible_campaign(session, slug=slug)
        creds = service.credentials_of(session, workspace_id=found.workspace_id)
        brand_name, image = _brand_card(base, found.workspace_id, found.campaign.id, session)
    if creds is None:
        return JSONResponse(
            error_body("not_found", _("This campaign's brand has no WeChat official account.")),
            status_code=404,
        )
    settings = request.app.state.settings
    clock = request.app.state.clock
    try:
        ticket = service.jsapi_ticket(
            _store(request), creds, api_base=settings.wechat_api_base, now=clock.now
        )
    except WechatError as error:
        # The page works without a card; the brand sees the reason when testing the account.
        log.warning("wechat share card: workspace %s: %s", found.workspace_id, error.code)
        return JSONResponse(error_body("wechat_unavailable", error.message), status_code=503)
    link = f"{base}/c/{slug}?ch=wechat"
    with db.session() as session:
        participant = participation.get_participant(
            session, workspace_id=found.workspace_id, device_id=visitor.device_id
        )
        own = None
        if participant is not None:
            own = sharing.get_link(
                session, campaign_id=found.campaign.id, participant_id=participant.id
            )
    if participant is not None and own is None:  # their link, made on asking (as on /share)
        with db.transaction() as session:
            own = sharing.do_get_link(
                session,
                workspace_id=found.workspace_id,
                campaign_id=found.campaign.id,
                participant_id=participant.id,
                now=now,
            )
    if own is not None:
        link = f"{base}/s/{own.code}?ch=wechat"
    path = urlsplit(page)
    back = path.path + (f"?{path.query}" if path.query else "")
    card = service.make_share_card(
        creds=creds,
        ticket=ticket,
        url=page,
        title=found.campaign.name,
        desc=found.campaign.description.strip().split("\n", 1)[0] or brand_name,
        link=link,
        img_url=image,
        timestamp=int(now.timestamp()),
        login=(
            None
            if request.cookies.get(WX_COOKIE)
            else f"/c/{slug}/wechat/login?next={quote(back, safe='/')}"
        ),
    )
    return JSONResponse(dataclasses.asdict(card), headers={"Cache-Control": "no-store"})


@router.get("/c/{slug}/wechat/login")
def login(
    request: Request,
    slug: str,
    db: DbDep,
    settings: SettingsDep,
    visitor: VisitorDep,
    next: str = "",
) -> Response:
    """Off to WeChat's OAuth page (snsapi_base, or snsapi_userinfo when the brand asks); WeChat
    sends the visitor back to the callback with a code and our signed state."""
    with db.session() as session:
        found = campaigns.get_visible_campaign(session, slug=slug)
        creds = service.credentials_of(session, workspace_id=found.workspace_id)
    if creds is None:
        raise NotFound(_("This campaign's brand has no WeChat official account."))
    target = service.login_url(
        creds,
        open_base=settings.wechat_open_base,
        redirect_uri=public_base_url(request) + CALLBACK_PATH.format(slug=slug),
        secret=settings.secret_key.get_secret_value(),
        device_id=visitor.device_id,
    )
    response = RedirectResponse(target, status_code=302)
    back = service.safe_next(next or f"/c/{slug}")[:512]
    response.set_cookie(
        NEXT_COOKIE,
        back,
        max_age=service.STATE_MAX_AGE,
        path=f"/c/{slug}/wechat",
        samesite="lax",
        httponly=True,
    )
    return response


def _remember(response: Response, value: str, slug: str) -> Response:
    response.set_cookie(
        WX_COOKIE, value, max_age=WX_COOKIE_DAYS * 24 * 3600, samesite="lax", httponly=True
    )
    response.delete_cookie(NEXT_COOKIE, path=f"/c/{slug}/wechat")
    return response


@router.get(CALLBACK_PATH)
def callback(
    request: Request,
    slug: str,
    db: DbDep,
    settings: SettingsDep,
    visitor: VisitorDep,
    now: NowDep,
    state: str = "",
    code: str = "",
) -> Response:
    """WeChat's redirect: check the state (this server's, for this browser, recent), exchange
    the code for the OpenID, bind it to the visitor's person, and go back to the page."""
    workspace_id = service.read_state(
        secret=settings.secret_key.get_secret_value(), state=state, device_id=visitor.device_id
    )
    back = service.safe_next(request.cookies.get(NEXT_COOKIE) or f"/c/{slug}")
    if not code:  # the visitor declined snsapi_userinfo: go on without, and do not ask again
        return _remember(RedirectResponse(back, status_code=303), "0", slug)
    if len(code) > 128:
        raise InvalidInput(
            _("The WeChat sign-in code is not valid; please try again."), field="code"
        )
    with db.session() as session:
        found = campaigns.get_visible_campaign(session, slug=slug)
        creds = service.credentials_of(session, workspace_id=workspace_id)
    if creds is None or found.workspace_id != workspace_id:
        raise NotFound(_("This campaign's brand has no WeChat official account."))
    try:
        grant, nickname = service.exchange(creds, api_base=settings.wechat_api_base, code=code)
    except WechatError as error:
        if error.code is None:
            raise Unavailable(error.message) from None
        raise InvalidInput(error.message, field="code") from None
    with db.transaction() as session:
        service.do_bind_wechat(
            session,
            workspace_id=workspace_id,
            device_id=visitor.device_id,
            openid=grant.openid,
            unionid=grant.unionid,
            nickname=nickname,
            now=now,
        )
    return _remember(RedirectResponse(back, status_code=303), "1", slug)
