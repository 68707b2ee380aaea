"""Rate limits on participant actions, per device and per IP (the `limits` library)."""

from __future__ import annotations

from limits import parse

from im2.errors import TooManyAttempts
from im2.i18n import _
from im2.workspaces.throttle import Counters


class ActionLimiter:
    """Counters in this process (the embedded default), or in Redis shared by every server
    process when `redis_url` is set (IM2_REDIS_URL), so that a limit holds however a load
    balancer spreads one participant's requests. See `Counters`."""

    def __init__(self, *, per_device: str, per_ip: str, redis_url: str | None = None) -> None:
        self._limiter = Counters(redis_url)
        self._per_device = parse(per_device)
        self._per_ip = parse(per_ip)

    def hit(self, *, device_id: str, ip: str | None) -> None:
        if not self._limiter.hit(self._per_device, "device", device_id):
            raise _too_fast()
        if ip and not self._limiter.hit(self._per_ip, "ip", ip):
            raise _too_many_from_network()

    async def ahit(self, *, device_id: str, ip: str | None) -> None:
        """`hit` for a route on the event loop (the vote): with Redis, the two round trips
        (~0.35 ms together on loopback) no longer block the loop; in-process, the same."""
        if not await self._limiter.ahit(self._per_device, "device", device_id):
            raise _too_fast()
        if ip and not await self._limiter.ahit(self._per_ip, "ip", ip):
            raise _too_many_from_network()

    async def aclose(self) -> None:
        await self._limiter.aclose()


def _too_fast() -> TooManyAttempts:
    return TooManyAttempts(_("You are going too fast; wait a moment and try again."))


def _too_many_from_network() -> TooManyAttempts:
    return TooManyAttempts(_("Too many actions from your network; wait a moment and try again."))
