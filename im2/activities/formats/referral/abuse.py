"""Signals that an invite is the inviter inviting themselves (or a ring of friends farming
rewards): pure functions over participants' stored signals, no database.

Each check returns evidence the brand can read in the review queue; none of them alone proves
fraud (a family shares a Wi-Fi network), which is why a suspicious invite is held for review,
not refused."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from im2.participation.service import Signals

IPV4_PREFIX = 24
IPV6_PREFIX = 64
RING_MAX_LENGTH = 4


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


def pair_evidence(inviter: Signals, invitee: Signals) -> dict[str, str]:
    """Reasons (code → detail) why these two look like one person."""
    found: dict[str, str] = {}
    if (
        inviter.first_ip
        and inviter.first_ip == invitee.first_ip
        and inviter.user_agent
        and inviter.user_agent == invitee.user_agent
    ):
        found["same_device"] = f"{invitee.first_ip} · {invitee.user_agent[:80]}"
    else:
        net = network(inviter.first_ip)
        if net is not None and net == network(invitee.first_ip):
            found["same_network"] = f"{inviter.first_ip} / {invitee.first_ip} ({net})"
    email = _email_key(inviter.verified_email)
    phone = _phone_key(inviter.verified_phone)
    if email is not None and email == _email_key(invitee.verified_email):
        found["same_identity"] = email
    elif phone is not None and phone == _phone_key(invitee.verified_phone):
        found["same_identity"] = f"…{phone[-4:]}"
    return found


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
