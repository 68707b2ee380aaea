"""Rate limits on participant actions, per device and per IP (the `limits` library)."""

from __future__ import annotations

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from im2.errors import TooManyAttempts
from im2.i18n import _


class ActionLimiter:
    """In-process counters, right for the embedded default; with several server processes,
    point `limits` at Redis with a storage URI instead.

    Sliding-window counters (two counters per key, the previous window weighted) rather than
    a moving window: the memory storage keeps a moving window's key after its entries expire
    and its expiry thread walks every key ever seen every 10 ms, so with a new device per vote
    the walk grew without bound and took the server's CPU. Counters that expire are dropped.
    """

    def __init__(self, *, per_device: str, per_ip: str) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._per_device = parse(per_device)
        self._per_ip = parse(per_ip)

    def hit(self, *, device_id: str, ip: str | None) -> None:
        if not self._limiter.hit(self._per_device, "device", device_id):
            raise TooManyAttempts(_("You are going too fast; wait a moment and try again."))
        if ip and not self._limiter.hit(self._per_ip, "ip", ip):
            raise TooManyAttempts(
                _("Too many actions from your network; wait a moment and try again.")
            )
