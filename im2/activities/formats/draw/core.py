"""The verifiable draw, as plain functions of public data (no database, no web).

Before a draw the brand publishes `commitment = SHA-256(seed)`; the seed itself is 32 random
bytes generated when the draw is created and kept secret. Afterwards the seed is revealed and
anyone can recompute the outcome from it and the published list of entries:

- every entry gets a ticket `HMAC-SHA256(key=seed, message=str(entry_id))` (hex);
- scheduled draw: eligible entries are sorted by (ticket, entry_id); prizes, in their published
  order, take as many winners as they have units, from the top of that ranking;
- instant win: an entry's roll is the first 52 bits of its ticket divided by 2**52, a number in
  [0, 1); walking the prizes in order with cumulative odds, the roll picks at most one prize.
  A picked prize is won while it has stock, so an entry can pick a prize and still lose.
  A prize shared with the points store (`shared`) is also won only while the store's stock has
  a unit: an entry that found it empty is published in `missed` with the prize it picked.

The seed cannot be changed after the commitment is shown, and nobody (the brand included) can
choose their entry id's ticket, so the winners are fixed the moment the entries are.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from dataclasses import dataclass, field

ROLL_BITS = 52


def commitment_of(seed_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(seed_hex)).hexdigest()


def ticket(seed_hex: str, entry_id: int) -> str:
    return hmac.new(bytes.fromhex(seed_hex), str(entry_id).encode(), hashlib.sha256).hexdigest()


def rank(seed_hex: str, entry_ids: list[int]) -> list[int]:
    return sorted(entry_ids, key=lambda entry_id: (ticket(seed_hex, entry_id), entry_id))


@dataclass(frozen=True, slots=True)
class PrizeTerms:
    id: int
    units: int  # the stock the draw started with
    odds: float = 0.0  # instant win only: the chance, in [0, 1], that an entry picks it
    shared: bool = False  # its stock is shared with the points store


def scheduled_winners(
    seed_hex: str, entry_ids: list[int], prizes: list[PrizeTerms]
) -> dict[int, int]:
    """entry id → prize id, for a draw held among `entry_ids`."""
    ranked = rank(seed_hex, entry_ids)
    winners: dict[int, int] = {}
    cursor = 0
    for prize in prizes:
        for entry_id in ranked[cursor : cursor + prize.units]:
            winners[entry_id] = prize.id
        cursor += prize.units
    return winners


def roll(seed_hex: str, entry_id: int) -> float:
    return int(ticket(seed_hex, entry_id)[: ROLL_BITS // 4], 16) / float(1 << ROLL_BITS)


def instant_pick(seed_hex: str, entry_id: int, prizes: list[PrizeTerms]) -> int | None:
    """The prize this entry's roll picks (won only if that prize still has stock)."""
    value = roll(seed_hex, entry_id)
    upper = 0.0
    for prize in prizes:
        upper += prize.odds
        if value < upper:
            return prize.id
    return None


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    problems: list[str] = field(default_factory=list)


def verify(
    *,
    mode: str,
    seed_hex: str,
    commitment: str,
    entry_ids: list[int],
    prizes: list[PrizeTerms],
    winners: dict[int, int],
    missed: dict[int, int] | None = None,
) -> Verdict:
    """Do the published winners follow from the revealed seed and the published entries?
    `missed` (instant win): entry id → the shared prize its roll picked while the store's stock
    of it was empty; nothing else excuses an entry that picked a prize and did not win it."""
    missed = missed or {}
    problems: list[str] = []
    if commitment_of(seed_hex) != commitment:
        problems.append("the revealed seed does not match the commitment shown before the draw")
    if mode == "scheduled":
        expected = scheduled_winners(seed_hex, entry_ids, prizes)
        for entry_id in sorted(set(expected) | set(winners)):
            if expected.get(entry_id) != winners.get(entry_id):
                problems.append(
                    f"entry {entry_id}: expected prize {expected.get(entry_id)}, "
                    f"published {winners.get(entry_id)}"
                )
        if missed:
            problems.append(f"a scheduled draw has no missed entries, published {len(missed)}")
        return Verdict(ok=not problems, problems=problems)
    # Instant win: each winner's prize must be the one its roll picked, no prize may have more
    # winners than units, and an entry that picked a prize but lost needs that prize sold out.
    units = {p.id: p.units for p in prizes}
    won = Counter(winners.values())
    eligible = set(entry_ids)
    for entry_id, prize_id in sorted(winners.items()):
        if entry_id not in eligible:
            problems.append(f"entry {entry_id} won but is not in the list of entries")
        picked = instant_pick(seed_hex, entry_id, prizes)
        if picked != prize_id:
            problems.append(f"entry {entry_id}: roll picks prize {picked}, published {prize_id}")
    for prize_id, count in won.items():
        if count > units.get(prize_id, 0):
            problems.append(f"prize {prize_id}: {count} winners for {units.get(prize_id, 0)} units")
    shared = {p.id for p in prizes if p.shared}
    for entry_id, prize_id in sorted(missed.items()):
        picked = instant_pick(seed_hex, entry_id, prizes)
        if entry_id not in eligible or entry_id in winners:
            problems.append(f"entry {entry_id} is published as missed but is not a losing entry")
        elif picked != prize_id or prize_id not in shared:
            problems.append(
                f"entry {entry_id}: published as missing shared prize {prize_id}, "
                f"roll picks {picked}"
            )
    for entry_id in entry_ids:
        picked = instant_pick(seed_hex, entry_id, prizes)
        if (
            picked is not None
            and entry_id not in winners
            and missed.get(entry_id) != picked
            and won[picked] < units[picked]
        ):
            problems.append(f"entry {entry_id} picked prize {picked}, which was not sold out")
    return Verdict(ok=not problems, problems=problems)
