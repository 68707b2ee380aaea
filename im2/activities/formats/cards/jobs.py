"""Background job of 集卡: draw the cards of the campaign's qualifying events."""

from __future__ import annotations

from im2 import isolation
from im2.activities.formats.cards.draws import BATCH, process_events
from im2.clock import Clock
from im2.db import Database


def draw_cards_job(db: Database, clock: Clock) -> int:
    """Follow the event log and draw one card per qualifying event. Idempotent (a card is keyed
    by its event) and safe to run twice at once (the cursor row is locked); returns events read."""
    return sum(isolation.catch_up(db, clock, process_events, batch=BATCH))
