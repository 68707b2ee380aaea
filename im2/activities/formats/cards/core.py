"""The verifiable draw of one card: pure, no database.

Each activity has a secret 32-byte seed; its commitment `SHA-256(seed)` is on the public page
from the start, and the seed is shown once the campaign has ended. The card of a qualifying
event is `pick(seed, event_id, weights)`: the ticket `HMAC-SHA256(key=seed, msg=str(event_id))`
read as a number in [0, 1) and placed on the cumulative weights. Anyone with the seed, the
published weights and the event ids can recompute every card; nobody (the brand included) can
choose a card for an event once the commitment is public.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

ROLL_BITS = 52  # exact in a float


def new_seed() -> str:
    return secrets.token_hex(32)


def commitment_of(seed_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(seed_hex)).hexdigest()


def ticket(seed_hex: str, event_id: int) -> str:
    return hmac.new(bytes.fromhex(seed_hex), str(event_id).encode(), hashlib.sha256).hexdigest()


def roll(ticket_hex: str) -> float:
    return int(ticket_hex[: ROLL_BITS // 4], 16) / float(1 << ROLL_BITS)


def pick(ticket_hex: str, weights: Sequence[int]) -> int:
    """The index of the card this ticket lands on (weights are whole numbers above zero)."""
    point = roll(ticket_hex) * sum(weights)
    upto = 0
    for index, weight in enumerate(weights):
        upto += weight
        if point < upto:
            return index
    return len(weights) - 1


def odds(weights: Sequence[int]) -> list[float]:
    total = sum(weights)
    return [w / total for w in weights]
