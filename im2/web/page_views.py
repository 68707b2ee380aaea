"""Recording a participant page's view from its request: who (the device cookie), through which
channel, share link, search or site, and whether the request is a view at all.

Not views: anything but GET (HEAD, form posts), HTMX partial refreshes, browser prefetches and
link previews, and crawlers that say they are one. The big-screen and presenter pages do not
call this. The event goes through the database's group commit with the other views of the
moment; the page is rendered meanwhile and waits for it only at the end (`settle`), and a view
that cannot be written never fails the page.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import Future
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request

from im2.events.schemas import EventKind
from im2.participation.visits import PageView, record_views
from im2.sharing.schemas import CHANNEL_MAX, utm_of
from im2.web.deps import CHANNEL_COOKIE

log = logging.getLogger(__name__)

# Set by /s/<code> on its redirect and consumed by the page it lands on: that one view came
# through the share link (the first-touch `im2_ref` cookie lives for weeks and says nothing
# about later visits).
VIA_COOKIE = "im2_via"
VIA_MAX_AGE = 600
SHARE_CODE = re.compile(r"^[0-9a-z]{4,16}$")
BOT_MARKERS = re.compile(
    r"bot\b|bot/|spider|crawl|slurp|facebookexternalhit|embedly|preview|lighthouse", re.I
)
SEARCH_HOSTS = re.compile(
    r"(^|\.)(baidu|google|bing|sogou|so|sm|yandex|duckduckgo|yahoo|toutiao|quark)\.", re.I
)
SEARCH_MEDIUMS = frozenset({"search", "cpc", "organic", "sem", "seo"})
SETTLE_SECONDS = 5.0


def is_view(request: Request) -> bool:
    """Whether this request is a person looking at the page (see the module's docstring)."""
    if request.method != "GET" or not getattr(request.state, "device_id", None):
        return False
    headers = request.headers
    if headers.get("hx-request") == "true":
        return False
    purpose = " ".join(
        headers.get(name, "") for name in ("sec-purpose", "purpose", "x-purpose", "x-moz")
    ).lower()
    if "prefetch" in purpose or "preview" in purpose or "prerender" in purpose:
        return False
    return not BOT_MARKERS.search(headers.get("user-agent", ""))


def _host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host[:100] if host else None


def view_of(
    request: Request,
    *,
    kind: EventKind,
    workspace_id: int,
    campaign_id: int,
    activity_id: int | None,
) -> PageView:
    """The view this request makes, with the channel (`ch`, else the UTM source, else the
    channel the visitor first came by), the share code when it came through a share link, and
    the UTM parameters and referring site it came with."""
    query = dict(request.query_params)
    utm = utm_of(query)
    channel = (
        (query.get("ch") or "").strip()
        or utm.get("utm_source", "").lower()
        or request.cookies.get(CHANNEL_COOKIE, "")
    )[:CHANNEL_MAX] or None
    via = request.cookies.get(VIA_COOKIE) or ""
    referrer = via if SHARE_CODE.match(via) else None
    properties: dict[str, Any] = {}
    if utm:
        properties["utm"] = utm
    came_from = _host(request.headers.get("referer"))
    if came_from and came_from != request.url.hostname:
        properties["from"] = came_from
    if referrer is not None:
        properties["source"] = "share"
    elif (came_from and SEARCH_HOSTS.search(came_from)) or (
        utm.get("utm_medium", "").lower() in SEARCH_MEDIUMS
    ):
        properties["source"] = "search"
    elif "from" in properties:
        properties["source"] = "referral"
    return PageView(
        kind=kind,
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        activity_id=activity_id,
        device_id=str(request.state.device_id),
        occurred_at=request.app.state.clock.now(),
        channel=channel,
        referrer=referrer,
        properties=properties,
    )


def submit_view(
    request: Request,
    *,
    kind: EventKind,
    workspace_id: int,
    campaign_id: int,
    activity_id: int | None = None,
) -> Future[Any] | None:
    """Queue the request's view for the group commit (None when the request is no view)."""
    if not is_view(request):
        return None
    view = view_of(
        request,
        kind=kind,
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        activity_id=activity_id,
    )
    future: Future[Any] = request.app.state.db.group_commit(record_views, view)
    return future


def settle(future: Future[Any] | None) -> None:
    """Wait for a queued view to be committed; a failure is logged, never shown."""
    if future is None:
        return
    try:
        future.result(timeout=SETTLE_SECONDS)
    except Exception:
        log.warning("a page view could not be recorded", exc_info=True)
