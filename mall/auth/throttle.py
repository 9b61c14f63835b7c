"""Login throttling in Redis: failures counted per account and per client address.

A fixed window per key (SET NX EX + INCR in one round trip). When either count
reaches its limit, further attempts are refused, right password or not,
until the window ends; a successful login clears the account's count.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis


@dataclass(frozen=True)
class LoginThrottle:
    redis: Redis
    prefix: str
    window_seconds: int
    max_per_account: int
    max_per_address: int

    def _keys(self, email: str, address: str) -> tuple[str, str]:
        return (
            f"{self.prefix}:login:fail:account:{email}",
            f"{self.prefix}:login:fail:addr:{address}",
        )

    async def retry_after(self, email: str, address: str) -> int | None:
        """Seconds until the caller may try again, or None when it may try now."""
        account_key, address_key = self._keys(email, address)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(account_key).ttl(account_key).get(address_key).ttl(address_key)
            account, account_ttl, address_count, address_ttl = await pipe.execute()
        waits = []
        if account is not None and int(account) >= self.max_per_account:
            waits.append(max(int(account_ttl), 1))
        if address_count is not None and int(address_count) >= self.max_per_address:
            waits.append(max(int(address_ttl), 1))
        return max(waits) if waits else None

    async def record_failure(self, email: str, address: str) -> None:
        account_key, address_key = self._keys(email, address)
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in (account_key, address_key):
                # SET NX starts the window on the first failure (works on Redis 6 too).
                pipe.set(key, 0, ex=self.window_seconds, nx=True).incr(key)
            await pipe.execute()

    async def record_success(self, email: str) -> None:
        await self.redis.delete(self._keys(email, "")[0])
