"""Shapes of the embed domain, and the one check of an embed origin (pure)."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from im2.activities.formats.poll.schemas import PollResults
from im2.activities.schemas import ActivityKind
from im2.campaigns.schemas import Language
from im2.errors import InvalidInput
from im2.i18n import _

MAX_ORIGINS = 20
# A host name label (letters, digits, hyphens; IDNs as punycode) or an IPv4 address.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST = re.compile(rf"^(?:{_LABEL}\.)*{_LABEL}$")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
DEFAULT_PORTS = {"http": 80, "https": 443}


class EmbedOriginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    origin: str = Field(max_length=255, examples=["https://www.example.com"])


class EmbedOriginRead(BaseModel):
    id: int
    origin: str
    created_at: datetime


class EmbedToken(BaseModel):
    """A widget identity: send it as `X-IM2-Token` with every public API call."""

    token: str


def check_origin(text: str) -> str:
    """The origin as CSP and browsers write it (`scheme://host[:port]`, lower case, no default
    port), or InvalidInput naming the field `origin`.

    Allowed: `https://host`, `http://host` (development sites), a port, and one leading
    wildcard label on https only (`https://*.example.com`: any sub-domain, not the domain
    itself, as CSP reads it). Refused: paths, queries, user info, `*` alone, wildcards
    elsewhere, and anything that is not http(s).
    """
    value = text.strip()
    bad = InvalidInput(
        _("Enter an origin such as https://www.example.com (scheme and host, no path)."),
        field="origin",
    )
    match = re.fullmatch(r"(?i)(https?)://([^/?#@\s:]+)(?::(\d{1,5}))?/?", value)
    if not value or len(value) > 255 or match is None:
        raise bad
    scheme, host, port_text = match.group(1).lower(), match.group(2).lower(), match.group(3)
    wildcard = host.startswith("*.")
    name = host[2:] if wildcard else host
    if wildcard and scheme != "https":
        raise InvalidInput(_("A wildcard origin must use https."), field="origin")
    if "*" in name or not (_HOST.match(name) or _IPV4.match(name)):
        raise bad
    if wildcard and ("." not in name or _IPV4.match(name)):
        # `https://*.com` would let any site frame the pages.
        raise InvalidInput(
            _("A wildcard needs a domain of its own, such as https://*.example.com."),
            field="origin",
        )
    if _IPV4.match(name) and any(int(part) > 255 for part in name.split(".")):
        raise bad
    port = int(port_text) if port_text else None
    if port is not None and not 1 <= port <= 65535:
        raise bad
    if port == DEFAULT_PORTS[scheme]:
        port = None
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def origin_allowed(origin: str, allowed: list[str]) -> bool:
    """Whether a browser's origin (`scheme://host[:port]`) is one of `allowed` (as checked by
    `check_origin`), the wildcard as CSP matches it: any sub-domain, same scheme and port."""
    try:
        wanted = check_origin(origin)
    except InvalidInput:
        return False
    if "*" in wanted:
        return False
    for entry in allowed:
        if entry == wanted:
            return True
        if entry.startswith("https://*."):
            rest = entry[len("https://*") :]  # ".example.com[:port]"
            if wanted.startswith("https://") and wanted.endswith(rest):
                host = wanted[len("https://") : len(wanted) - len(rest)]
                if host and ":" not in host:
                    return True
    return False


class WidgetOption(BaseModel):
    id: int
    label: str
    image_url: str | None


class WidgetPoll(BaseModel):
    """A poll as one visitor sees it (results only when the poll shows them to this visitor)."""

    multiple: bool
    max_choices: int
    options: list[WidgetOption]
    voted: bool
    can_vote: bool
    my_choices: list[int]
    results: PollResults | None
    vote_url: str


class WidgetActivity(BaseModel):
    """An activity for the widget and for mini-programs and apps: what a visitor sees."""

    id: int
    kind: ActivityKind
    title: str
    description: str
    campaign_slug: str
    campaign_name: str
    open: bool
    closed_reason: str | None
    # A visitor with no participation in the workspace yet must agree before their first vote
    # (send `"consent": true` with it); `consent_text` is what they agree to.
    needs_consent: bool
    consent_text: str
    # The SHA-256 of `consent_text` while it is the brand's text a first action records (null
    # for a visitor who has joined): read it again before that action, and show the new text
    # if the hash changed, so the version recorded is the one the person read.
    consent_sha256: str | None = None
    page_url: str  # the full page of the activity on this site
    # The format's own public JSON view, for the formats the widget shows in full besides the
    # poll (every other format; docs/embed.md).
    view_url: str | None = None
    # The languages the campaign speaks (its pages' switcher), and the one it shows when the
    # visitor asks for none of them. This answer's own words (closed_reason, consent_text,
    # errors) follow the request's Accept-Language; the campaign's content is as the brand
    # wrote it (docs/languages.md).
    languages: list[Language]
    default_language: Language
    poll: WidgetPoll | None = None
