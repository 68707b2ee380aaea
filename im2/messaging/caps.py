"""The SMS caps: texts per number per day (each workspace sets its own) and per network.

Counted with the `limits` counters the participant rate limits use (`Counters`): in this
process, or in Redis shared by every server process when IM2_REDIS_URL is set. The number is
counted under its keyed hash, never in the clear."""

from __future__ import annotations

from limits import parse

from im2.errors import TooManyAttempts
from im2.i18n import _
from im2.workspaces.throttle import Counters


class SmsCaps:
    def __init__(self, *, per_ip: str, redis_url: str | None = None) -> None:
        self._counters = Counters(redis_url)
        self._per_ip = parse(per_ip)

    def hit(self, *, workspace_id: int, number_hash: str, daily_cap: int, ip: str | None) -> None:
        """Count one text to this number from this network, or refuse it (429) with why.
        A refused text counts nothing."""
        per_number = parse(f"{daily_cap}/day")
        number_key = ("sms-number", str(workspace_id), number_hash)
        if not self._counters.test(per_number, *number_key):
            raise TooManyAttempts(
                _("This number has had as many codes as it may today; try again tomorrow."),
                field="destination",
            )
        if ip and not self._counters.hit(self._per_ip, "sms-ip", ip):
            raise TooManyAttempts(
                _("Too many text messages from your network; wait a while and try again."),
                field="destination",
            )
        if not self._counters.hit(per_number, *number_key):
            raise TooManyAttempts(
                _("This number has had as many codes as it may today; try again tomorrow."),
                field="destination",
            )
