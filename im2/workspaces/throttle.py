"""Failed console sign-ins throttled per client address and per (e-mail, address).

Counting by address instead of locking the account means a stranger guessing a password from
elsewhere slows down only themselves: the real user, from their own network, still signs in.
Unknown e-mails count exactly like known ones, so being throttled reveals nothing about which
accounts exist.

In-process counters (the `limits` library, sliding windows that expire), right for the
embedded default; several server processes would share a `limits` storage such as Redis.
"""

from __future__ import annotations

import hashlib

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter


class LoginThrottle:
    def __init__(self, *, per_ip: str, per_account_ip: str) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        self.per_ip: RateLimitItem = parse(per_ip)
        self.per_account_ip: RateLimitItem = parse(per_account_ip)

    @staticmethod
    def _account(email: str) -> str:
        # The counters hold a digest, not the e-mail someone typed.
        return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]

    def blocked(self, *, ip: str, email: str) -> bool:
        """Whether this address (for this e-mail) used up its failures for now."""
        return not (
            self._limiter.test(self.per_ip, "login-ip", ip)
            and self._limiter.test(self.per_account_ip, "login-account", ip, self._account(email))
        )

    def failed(self, *, ip: str, email: str) -> None:
        self._limiter.hit(self.per_ip, "login-ip", ip)
        self._limiter.hit(self.per_account_ip, "login-account", ip, self._account(email))

    def succeeded(self, *, ip: str, email: str) -> None:
        """A right password from this address forgets its failures for that e-mail."""
        self._limiter.clear(self.per_account_ip, "login-account", ip, self._account(email))

    @property
    def window_minutes(self) -> int:
        """The longer of the two windows, to tell a throttled person how long to wait."""
        seconds = max(self.per_ip.get_expiry(), self.per_account_ip.get_expiry())
        return max(1, -(-seconds // 60))
