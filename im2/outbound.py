"""Where the server may connect on a workspace's behalf: one parser for every outbound URL.

Feeds to poll, webhook receivers and the alert webhook are URLs a workspace types in; the mail
relay is a host name. Each is read by `parse_url` / `parse_host` here, when it is saved and
again before every call, so the address that was checked is the address that is called:

- the URL is taken apart once and put back together in one canonical spelling (`Destination.url`),
  which is what gets stored and what the HTTP client is given, so no second parser can read
  the text differently;
- a host is read the way browsers and C's `inet_aton` read it (the WHATWG URL standard): after
  IDNA mapping (`127。0。0。1` with ideographic full stops is `127.0.0.1`), a host whose last
  label is a number is an IPv4 address in decimal, octal or hex, in one to four parts
  (`2130706433`, `0x7f000001`, `017700000001`, `0177.0.0.1`, `127.1` and `0` are all
  addresses, and are written out as such);
- an address is public only if it is globally routable and so is every IPv4 address it carries
  (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`,
  6to4 `2002::/16`, Teredo).

Outside development nothing on loopback, private, link-local (the cloud metadata address above
all), shared, multicast or reserved networks is reached unless IM2_WEBHOOK_ALLOW_PRIVATE_NETWORKS
says so. Names are judged as written when saved (`localhost`, `.internal`, …) and by every
address they resolve to before each call.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import idna

from im2.errors import InvalidInput
from im2.i18n import N_, _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = {"http": 80, "https": 443}
# Host names that never lead to the public internet.
PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")
_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")


class UnusableUrl(ValueError):
    """The text is not an http(s) URL this server will call; `problem` says which part."""

    def __init__(self, problem: str, detail: str = "") -> None:
        super().__init__(f"{problem}: {detail}" if detail else problem)
        self.problem = problem
        self.detail = detail


# Problems, as codes (stored in delivery logs) with their words for people.
SCHEME, HOST, PORT, CHARACTERS, MALFORMED = "scheme", "host", "port", "characters", "malformed"


@dataclass(frozen=True, slots=True)
class Wording:
    """What a refusal says, per kind of address (msgids, translated when raised)."""

    scheme: str
    host: str
    port: str
    not_public: str


WEBHOOK_URL = Wording(
    scheme=N_("The webhook URL must start with http:// or https:// (got {url})."),
    host=N_("The webhook URL needs a host name, e.g. https://shop.example.com/im2-hook."),
    port=N_("The port in the webhook URL is not a number."),
    not_public=N_(
        "The webhook URL points at {address}, which is not a public internet address; "
        "receivers must be reachable on the internet."
    ),
)
FEED_URL = Wording(
    scheme=N_("The feed URL must start with http:// or https:// (got {url})."),
    host=N_("The feed URL needs a host name."),
    port=N_("The port in the feed URL is not a number."),
    not_public=N_(
        "The feed URL points at {address}, which is not a public internet address; "
        "feeds must be reachable on the internet."
    ),
)
MAIL_HOST = Wording(
    scheme=N_("The mail server is a host name or address, e.g. smtp.example.com."),
    host=N_("The mail server is a host name or address, e.g. smtp.example.com."),
    port=N_("The mail server is a host name or address, e.g. smtp.example.com."),
    not_public=N_(
        "The mail server {address} is not a public internet address; set "
        "IM2_WEBHOOK_ALLOW_PRIVATE_NETWORKS=true to use one inside your network."
    ),
)


@dataclass(frozen=True, slots=True)
class Destination:
    """A parsed outbound URL: `url` is its canonical spelling (what is stored and called)."""

    url: str
    scheme: str
    host: str  # lower-case ASCII name, or an address without brackets
    port: int
    address: IPAddress | None  # when the host is an address


# --- reading ---------------------------------------------------------------------------------


def _ipv4_number(part: str) -> int | None:
    """One part of a WHATWG IPv4 host: 0x… hex, 0… octal, else decimal (None if not a number)."""
    base, digits = 10, part
    if digits[:2].lower() == "0x":
        base, digits = 16, digits[2:]
    elif len(digits) > 1 and digits.startswith("0"):
        base, digits = 8, digits[1:]
    if not digits:
        return 0 if base != 10 else None
    try:
        return int(digits, base) if digits.isascii() and digits.isalnum() else None
    except ValueError:
        return None


def _ipv4_host(host: str) -> ipaddress.IPv4Address | None:
    """The address a host that ends in a number stands for (WHATWG "IPv4 parser"); None when
    the host is a name. A host that ends in a number but is no address is unusable."""
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    last = parts[-1]
    if not (last.isascii() and last.isdigit()) and _ipv4_number(last) is None:
        return None
    numbers = [_ipv4_number(p) for p in parts]
    if len(parts) > 4 or any(n is None for n in numbers):
        raise UnusableUrl(MALFORMED, host)
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise UnusableUrl(MALFORMED, host)
    value = values[-1] + sum(n << (8 * (3 - i)) for i, n in enumerate(values[:-1]))
    return ipaddress.IPv4Address(value)


def _check_characters(text: str) -> None:
    if any(ch.isspace() or not ch.isprintable() or ch == "\\" for ch in text):
        raise UnusableUrl(CHARACTERS, text.encode("unicode_escape").decode()[:80])


def _host(raw: str, *, bracketed: bool) -> tuple[str, IPAddress | None]:
    """A host in canonical form: an address, or an IDNA (A-label) lower-case name."""
    if not raw:
        raise UnusableUrl(HOST)
    if bracketed:
        try:
            v6 = ipaddress.IPv6Address(raw)
        except ValueError:
            raise UnusableUrl(MALFORMED, raw) from None
        if v6.scope_id:  # "%eth0": an interface of this machine, never the internet
            raise UnusableUrl(MALFORMED, raw)
        return str(v6), v6
    try:
        name = idna.encode(raw, uts46=True).decode("ascii") if not raw.isascii() else raw
    except (idna.IDNAError, UnicodeError):
        raise UnusableUrl(MALFORMED, raw) from None
    name = name.lower()
    v4 = _ipv4_host(name)
    if v4 is not None:
        return str(v4), v4
    name = name.rstrip(".")
    if len(name) > 253 or not _NAME.fullmatch(name):
        raise UnusableUrl(MALFORMED, raw)
    return name, None


def parse_url(text: str) -> Destination:
    """Read an http(s) URL and spell it canonically; raises `UnusableUrl`."""
    value = text.strip()
    _check_characters(value)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        problem = PORT if "port" in str(exc).lower() else MALFORMED
        raise UnusableUrl(problem, value[:80]) from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UnusableUrl(SCHEME, value[:80])
    userinfo, _at, hostport = parts.netloc.rpartition("@")
    bracketed = hostport.startswith("[")
    raw_host = hostport[1:].partition("]")[0] if bracketed else hostport.partition(":")[0]
    host, address = _host(raw_host, bracketed=bracketed)
    if port == 0:
        raise UnusableUrl(PORT, value[:80])
    netloc = f"[{host}]" if isinstance(address, ipaddress.IPv6Address) else host
    if port is not None and port != SCHEMES[scheme]:
        netloc = f"{netloc}:{port}"
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    url = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    return Destination(url, scheme, host, port or SCHEMES[scheme], address)


def parse_host(text: str) -> tuple[str, IPAddress | None]:
    """Read a bare host name or address (a mail relay); raises `UnusableUrl`."""
    value = text.strip()
    _check_characters(value)
    if any(ch in "/@?#" for ch in value) or value.count(":") == 1:
        raise UnusableUrl(HOST, value[:80])
    bracketed = value.startswith("[") and value.endswith("]")
    if ":" in value and not bracketed:  # a bare IPv6 address
        value, bracketed = f"[{value}]", True
    return _host(value[1:-1] if bracketed else value, bracketed=bracketed)


# --- judging ---------------------------------------------------------------------------------


def _translated_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address merely stands for: IPv4-mapped, or NAT64 (a DNS64
    resolver gives public hosts such addresses, so they are judged by the IPv4 inside)."""
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _tunnelled_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses a tunnel address leads to (6to4 relay, Teredo server and client)."""
    found = [address.sixtofour] if address.sixtofour else []
    if address.teredo:
        found.extend(address.teredo)
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # deprecated ::a.b.c.d
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        translated = _translated_ipv4(address)
        if translated is not None:
            return _is_public(translated)
    if (
        not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    ):
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return address not in _SHARED
    return not address.is_site_local and all(_is_public(a) for a in _tunnelled_ipv4(address))


def non_public(host: str, address: IPAddress | None = None) -> str | None:
    """Why a canonical host is plainly not on the public internet (the address or name), else
    None. Names are judged as written; what they resolve to is `resolve_non_public`'s job."""
    if address is not None:
        return None if _is_public(address) else str(address)
    if host == "localhost" or host.endswith(PRIVATE_SUFFIXES):
        return host
    return None


def resolve_non_public(host: str, port: int) -> str | None:
    """The first address `host` resolves to that is not public (None when all are). Raises
    OSError when the name does not resolve."""
    canonical, address = parse_host(host)
    reason = non_public(canonical, address)
    if reason or address is not None:
        return reason
    for info in socket.getaddrinfo(canonical, port, proto=socket.IPPROTO_TCP):
        resolved = ipaddress.ip_address(str(info[4][0]).partition("%")[0])
        if not _is_public(resolved):
            return str(resolved)
    return None


# --- the two moments: saving and calling -----------------------------------------------------


def _refusal(problem: str, wording: Wording, text: str) -> str:
    if problem == SCHEME:
        return _(wording.scheme).format(url=text.strip()[:80] or '""')
    if problem == PORT:
        return _(wording.port)
    if problem == HOST:
        return _(wording.host)
    if problem == CHARACTERS:
        return _("The address contains spaces or control characters.")
    return _("This is not a valid web address (URL).")


def check_url(text: str, *, field: str, wording: Wording, private_networks: bool) -> str:
    """The canonical URL to store, or `InvalidInput` on `field` saying what is wrong."""
    try:
        destination = parse_url(text)
    except UnusableUrl as exc:
        raise InvalidInput(_refusal(exc.problem, wording, text), field=field) from None
    reason = None if private_networks else non_public(destination.host, destination.address)
    if reason:
        raise InvalidInput(_(wording.not_public).format(address=reason), field=field)
    return destination.url


def check_host(text: str, *, field: str, wording: Wording, private_networks: bool) -> str:
    """The canonical host to store (a mail relay), or `InvalidInput` on `field`."""
    try:
        host, address = parse_host(text)
    except UnusableUrl as exc:
        raise InvalidInput(_refusal(exc.problem, wording, text), field=field) from None
    reason = None if private_networks else non_public(host, address)
    if reason:
        raise InvalidInput(_(wording.not_public).format(address=reason), field=field)
    return host


@dataclass(frozen=True, slots=True)
class Verdict:
    """Before a call: the destination to call, or why not (`refused` names a non-public
    address; `unusable` says what is wrong with the URL or its name)."""

    destination: Destination | None
    refused: str | None = None
    unusable: str | None = None


def judge(url: str, *, private_networks: bool) -> Verdict:
    """Read `url` again and resolve its name; never raises. Call `verdict.destination.url`."""
    try:
        destination = parse_url(url)
    except UnusableUrl as exc:
        return Verdict(None, unusable=str(exc))
    if private_networks:
        return Verdict(destination)
    try:
        reason = resolve_non_public(destination.host, destination.port)
    except (OSError, UnicodeError, UnusableUrl) as exc:
        return Verdict(None, unusable=f"could not resolve {destination.host}: {exc}")
    return Verdict(None, refused=reason) if reason else Verdict(destination)


# --- links shown to people -------------------------------------------------------------------


def web_link(text: str | None) -> str | None:
    """`text` when it is an http(s) URL with a host, which a page may show as a link; None
    for anything else (`javascript:`, `data:`, relative or broken), which is shown as text."""
    value = (text or "").strip()
    if not value or any(not ch.isprintable() for ch in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme.lower() in SCHEMES and parts.netloc else None
