"""What the formats' demo content (`<format>/demo.py`) shares: the demo participants act as
real ones do, through the format's own participant writes, with the keywords every such write
takes (as `im2.activities.formats.api.ParticipantApi.rules` gives them for the JSON routes)."""

from __future__ import annotations

from typing import Any

# The production defaults (`Settings.risk_hold_threshold`, `.risk_identities_per_ip_hour`):
# demo participants pass the risk checks as ordinary visitors do.
RISK_THRESHOLD = 0.8
IDENTITIES_PER_IP_HOUR = 50


def demo_rules(seconds_on_page: float) -> dict[str, Any]:
    """A consenting participant who spent `seconds_on_page` on the page before acting."""
    return {
        "consented": True,
        "seconds_on_page": seconds_on_page,
        "risk_threshold": RISK_THRESHOLD,
        "identities_per_ip_hour": IDENTITIES_PER_IP_HOUR,
    }
