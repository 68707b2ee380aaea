"""Conversions reported by shops: idempotent by order id, attributed first- and last-touch to
the share links that brought the buyer, and recorded so analytics can show revenue and ROI."""
