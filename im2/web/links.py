"""The public address absolute links are built on while answering a request.

IM2_BASE_URL, when set, is the address (a server behind a proxy or a CDN names its public
address). Unset, a link follows the address the request came to: a phone that opened the
server at http://192.168.1.20:9000 gets share links and QR codes it can open itself. Proxy
headers (X-Forwarded-Proto, X-Forwarded-Host) count only with IM2_TRUST_FORWARDED_FOR, as
the client address does. Outside a request (jobs, commands), `Settings.base_url` is the
address: configured, or the server's own `--host`/`--port`.
"""

from __future__ import annotations

import re
from typing import Final

from starlette.requests import Request

from im2.config import Settings

# A host as a browser sends it: a name or IPv4 address, or an IPv6 address in brackets, and an
# optional port. Anything else (spaces, slashes, "@") is not used to build a link.
_HOST: Final = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")


def _first(value: str | None) -> str:
    return (value or "").split(",", 1)[0].strip()


def public_base_url(request: Request) -> str:
    """`scheme://host[:port]` without a trailing slash, for links that leave the page (share
    links, QR codes, posters)."""
    settings: Settings = request.app.state.settings
    if not settings.base_url_follows_server:
        return settings.base_url
    scheme = request.url.scheme
    host = request.headers.get("host", "")
    if settings.trust_forwarded_for:
        scheme = _first(request.headers.get("x-forwarded-proto")) or scheme
        host = _first(request.headers.get("x-forwarded-host")) or host
    if scheme not in ("http", "https") or not _HOST.match(host):
        return settings.base_url
    return f"{scheme}://{host}"
