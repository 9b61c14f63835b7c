"""Login throttling: guessing stays slow, the owner of an account still gets in.

Failures are counted per pair of account and client address. The first
``free_failures`` of a pair cost nothing; each one after that makes the pair
wait before its next attempt, twice as long each time (``base_delay``, then
double, up to ``max_delay``). Nobody is locked out for a fixed time: a
stranger's guesses from elsewhere slow only the stranger's own pair, and the
owner from its own address signs in as usual. The pair's count is forgotten
after ``window_seconds`` without a failure, and at once on a success.

Each address also has a ceiling of failures per window across all accounts
(spraying one password at many accounts), set far above what a school or a
hospital behind one NAT address produces by mistyping. At the ceiling every
sign-in from that address waits until the window ends.

The counters live in Redis; without it, in the process (see ``counters``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mall.auth.counters import Counters


@dataclass(frozen=True)
class LoginThrottle:
    counters: Counters
    prefix: str
    window_seconds: int
    free_failures: int
    base_delay_seconds: int
    max_delay_seconds: int
    max_per_address: int

    def _pair(self, email: str, address: str) -> str:
        # Hashed: the e-mail and address stay out of Redis key listings.
        digest = hashlib.sha256(f"{email}\n{address}".encode()).hexdigest()[:32]
        return f"{self.prefix}:login:pair:{digest}"

    def _address(self, address: str) -> str:
        return f"{self.prefix}:login:fail:addr:{address}"

    def delay_after(self, failures: int) -> int:
        """Seconds a pair waits after its n-th failure in a row."""
        if failures <= self.free_failures:
            return 0
        steps = min(failures - self.free_failures - 1, 30)
        return int(min(self.base_delay_seconds * 2**steps, self.max_delay_seconds))

    async def retry_after(self, email: str, address: str) -> int | None:
        """Seconds until this pair may try again, or None when it may try now."""
        pair = self._pair(email, address)
        (waiting, wait_left), (address_count, address_left) = await self.counters.remaining(
            [f"{pair}:wait", self._address(address)]
        )
        waits = []
        if waiting:
            waits.append(wait_left)
        if address_count >= self.max_per_address:
            waits.append(address_left)
        return max(waits) if waits else None

    async def record_failure(self, email: str, address: str) -> int:
        """Count a failure; returns the seconds the pair must now wait."""
        pair = self._pair(email, address)
        failures = await self.counters.incr(f"{pair}:count", self.window_seconds, refresh=True)
        await self.counters.incr(self._address(address), self.window_seconds, refresh=False)
        delay = self.delay_after(failures)
        if delay:
            await self.counters.mark(f"{pair}:wait", delay)
        return delay

    async def record_success(self, email: str, address: str) -> None:
        pair = self._pair(email, address)
        await self.counters.delete(f"{pair}:count", f"{pair}:wait")
