"""Signals that an invite is the inviter inviting themselves (or a ring of friends farming
rewards): pure functions over participants' stored signals, no database.

Each check returns evidence the brand can read in the review queue; none of them alone proves
fraud (a family shares a Wi-Fi network), which is why a suspicious invite is held for review,
not refused.

The evidence is stored (the invite's and the held reward's JSON, the `reward.held` event) and
read by console users who may not see people, so it holds no plain IP address, user agent,
e-mail address or phone number: an address is cut to its network (/24, /64), a user agent and
an e-mail are a short keyed hash (`im2.crypto`: equal values give equal hashes, nobody without
the server's key can find the value), a phone its last four digits. The checks themselves
compare keyed hashes too, never the plain values."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from im2.crypto import keyring
from im2.participation.service import Signals

IPV4_PREFIX = 24
IPV6_PREFIX = 64
RING_MAX_LENGTH = 4
SHOWN_HASH = 12  # hex digits of a keyed hash shown as evidence (48 bits: tells two apart)


def network(ip: str | None) -> str | None:
    """The /24 (IPv4) or /64 (IPv6) network of an address, as text; None if not an address."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _email_key(email: str | None) -> str | None:
    """An address with case and a `+tag` removed: tom+2@x.com and Tom@x.com are one person."""
    if not email or "@" not in email:
        return None
    local, _, domain = email.lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def _phone_key(phone: str | None) -> str | None:
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[-11:] if len(digits) >= 11 else digits or None


def keyed(kind: str, value: str | None) -> str | None:
    """The keyed hash of a signal (`kind`: ip, ua, email, phone), None for none."""
    if not value:
        return None
    return keyring().lookup_hash(f"referral-abuse:{kind}", value)


def shown_hash(digest: str) -> str:
    return digest[:SHOWN_HASH]


def pair_evidence(inviter: Signals, invitee: Signals) -> dict[str, str]:
    """Reasons (code → detail) why these two look like one person, each detail free of
    personal values (see the module's docstring)."""
    found: dict[str, str] = {}
    ip = keyed("ip", inviter.first_ip)
    ua = keyed("ua", inviter.user_agent)
    if ip and ua and ip == keyed("ip", invitee.first_ip) and ua == keyed("ua", invitee.user_agent):
        found["same_device"] = f"{network(invitee.first_ip) or '-'} · UA #{shown_hash(ua)}"
    else:
        net = network(inviter.first_ip)
        if net is not None and net == network(invitee.first_ip):
            found["same_network"] = net
    email = keyed("email", _email_key(inviter.verified_email))
    phone = _phone_key(inviter.verified_phone)
    if email is not None and email == keyed("email", _email_key(invitee.verified_email)):
        found["same_identity"] = f"e-mail #{shown_hash(email)}"
    elif phone is not None and keyed("phone", phone) == keyed(
        "phone", _phone_key(invitee.verified_phone)
    ):
        found["same_identity"] = f"…{phone[-4:]}"
    return found


def scrub_details(details: dict[str, object]) -> dict[str, object]:
    """Evidence details written before they were kept free of personal values, rewritten as
    `pair_evidence` writes them now: an address to its network, an e-mail to its keyed hash; a
    user agent (stored cut to 80 characters, so its hash would match nothing) is dropped.
    Details already in the new form come back unchanged (the rewrite can run twice)."""
    out = dict(details)
    device = out.get("same_device")
    if isinstance(device, str) and " · " in device and "UA #" not in device:
        # "<ip> · <user agent>": the old form (the new one is "<network> · UA #<hash>", and
        # a rewritten one is the network alone).
        out["same_device"] = network(device.split(" · ", 1)[0].strip()) or "-"
    neighbours = out.get("same_network")
    if isinstance(neighbours, str) and "(" in neighbours:
        out["same_network"] = neighbours.rsplit("(", 1)[1].rstrip(")").strip()
    identity = out.get("same_identity")
    if isinstance(identity, str) and "@" in identity:
        digest = keyed("email", _email_key(identity))
        out["same_identity"] = f"e-mail #{shown_hash(digest)}" if digest else "e-mail"
    return out


def find_ring(
    start: int, neighbours: Callable[[int], Iterable[int]], *, max_length: int = RING_MAX_LENGTH
) -> list[int] | None:
    """A shortest cycle through `start` of at most `max_length` edges in the graph given by
    `neighbours` (who a participant followed a link of, or was invited by), as the list of
    participants along it, or None."""
    frontier: list[list[int]] = [[start]]
    seen = {start}
    for _depth in range(max_length):
        following: list[list[int]] = []
        for path in frontier:
            for nxt in sorted(set(neighbours(path[-1]))):
                if nxt == start and len(path) >= 2:
                    return [*path, start]
                if nxt not in seen:
                    seen.add(nxt)
                    following.append([*path, nxt])
        frontier = following
        if not frontier:
            break
    return None


def burst(
    joined_at: datetime, others: Iterable[datetime], *, window: timedelta, limit: int
) -> int | None:
    """How many sign-ups through the same link fell within `window` before this one (this one
    included), if more than `limit`; else None."""
    count = sum(1 for t in others if joined_at - window < t <= joined_at)
    return count if count > limit else None
