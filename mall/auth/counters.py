"""Expiring counters for throttles: in Redis, or in this process when Redis is down.

Every API process shares the Redis counters. When Redis cannot be reached the
counters of this process take over (logged, at most once a minute), so that
signing in and the public pages keep answering and keep being limited, each
process on its own, until Redis is back.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import structlog
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger("mall.throttle")
T = TypeVar("T")
_WARN_EVERY_SECONDS = 60.0


class Counters(Protocol):
    async def incr(self, key: str, ttl_seconds: int, *, refresh: bool) -> int:
        """Add one and return the count; a new key lives ``ttl_seconds``
        (``refresh``: every increment gives it ``ttl_seconds`` again)."""

    async def mark(self, key: str, ttl_seconds: int) -> None:
        """Set a flag that disappears after ``ttl_seconds``."""

    async def remaining(self, keys: list[str]) -> list[tuple[int, int]]:
        """(value, seconds left) of each key; (0, 0) for a missing one."""

    async def delete(self, *keys: str) -> None: ...


@dataclass
class RedisCounters:
    redis: Redis

    async def incr(self, key: str, ttl_seconds: int, *, refresh: bool) -> int:
        async with self.redis.pipeline(transaction=True) as pipe:
            # SET NX starts the window on the first increment (works on Redis 6 too).
            pipe.set(key, 0, ex=ttl_seconds, nx=True).incr(key)
            if refresh:
                pipe.expire(key, ttl_seconds)
            result = await pipe.execute()
        return int(result[1])

    async def mark(self, key: str, ttl_seconds: int) -> None:
        await self.redis.set(key, 1, ex=max(ttl_seconds, 1))

    async def remaining(self, keys: list[str]) -> list[tuple[int, int]]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.get(key).ttl(key)
            values = await pipe.execute()
        return [
            (int(value), max(int(ttl), 1)) if value is not None else (0, 0)
            for value, ttl in zip(values[::2], values[1::2], strict=True)
        ]

    async def delete(self, *keys: str) -> None:
        await self.redis.delete(*keys)


@dataclass
class LocalCounters:
    """The same counters in this process's memory."""

    clock: Callable[[], float] = time.monotonic
    _values: dict[str, tuple[int, float]] = field(default_factory=dict)

    def _get(self, key: str) -> tuple[int, float] | None:
        entry = self._values.get(key)
        if entry is not None and entry[1] <= self.clock():
            del self._values[key]
            return None
        return entry

    def _sweep(self) -> None:
        if len(self._values) > 100_000:
            now = self.clock()
            self._values = {k: v for k, v in self._values.items() if v[1] > now}

    async def incr(self, key: str, ttl_seconds: int, *, refresh: bool) -> int:
        self._sweep()
        entry = self._get(key)
        now = self.clock()
        count = (entry[0] if entry else 0) + 1
        expires = now + ttl_seconds if entry is None or refresh else entry[1]
        self._values[key] = (count, expires)
        return count

    async def mark(self, key: str, ttl_seconds: int) -> None:
        self._sweep()
        self._values[key] = (1, self.clock() + max(ttl_seconds, 1))

    async def remaining(self, keys: list[str]) -> list[tuple[int, int]]:
        now = self.clock()
        out = []
        for key in keys:
            entry = self._get(key)
            out.append((entry[0], max(int(entry[1] - now + 0.999), 1)) if entry else (0, 0))
        return out

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._values.pop(key, None)


class _Degraded:
    """Logs that Redis is unreachable, at most once a minute per purpose."""

    def __init__(self, purpose: str) -> None:
        self.purpose = purpose
        self._warned_at = -_WARN_EVERY_SECONDS

    def warn(self, error: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_SECONDS:
            self._warned_at = now
            log.warning(
                "throttle.redis_unavailable",
                purpose=self.purpose,
                error=f"{type(error).__name__}: {error}",
                fallback="per-process",
            )


class FallbackCounters:
    """Redis counters, or this process's while Redis fails."""

    def __init__(self, redis: Redis, purpose: str = "login") -> None:
        self.primary = RedisCounters(redis)
        self.local = LocalCounters()
        self._degraded = _Degraded(purpose)

    async def _either(
        self, primary: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]
    ) -> T:
        try:
            return await primary()
        except (RedisError, OSError) as exc:
            self._degraded.warn(exc)
            return await local()

    async def incr(self, key: str, ttl_seconds: int, *, refresh: bool) -> int:
        return await self._either(
            lambda: self.primary.incr(key, ttl_seconds, refresh=refresh),
            lambda: self.local.incr(key, ttl_seconds, refresh=refresh),
        )

    async def mark(self, key: str, ttl_seconds: int) -> None:
        await self._either(
            lambda: self.primary.mark(key, ttl_seconds),
            lambda: self.local.mark(key, ttl_seconds),
        )

    async def remaining(self, keys: list[str]) -> list[tuple[int, int]]:
        return await self._either(
            lambda: self.primary.remaining(keys), lambda: self.local.remaining(keys)
        )

    async def delete(self, *keys: str) -> None:
        await self.local.delete(*keys)
        await self._either(lambda: self.primary.delete(*keys), lambda: self.local.delete(*keys))


class FallbackStore(Store):
    """A Litestar store (for the public rate limit) that falls back to memory."""

    def __init__(self, primary: Store, purpose: str = "public_rate_limit") -> None:
        self.primary = primary
        self.local = MemoryStore()
        self._degraded = _Degraded(purpose)

    async def _either(
        self, primary: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]
    ) -> T:
        try:
            return await primary()
        except (RedisError, OSError) as exc:
            self._degraded.warn(exc)
            return await local()

    async def set(self, key: str, value: str | bytes, expires_in: int | None = None) -> None:  # type: ignore[override]
        await self._either(
            lambda: self.primary.set(key, value, expires_in),
            lambda: self.local.set(key, value, expires_in),
        )

    async def get(self, key: str, renew_for: int | None = None) -> bytes | None:  # type: ignore[override]
        return await self._either(
            lambda: self.primary.get(key, renew_for), lambda: self.local.get(key, renew_for)
        )

    async def delete(self, key: str) -> None:
        await self._either(lambda: self.primary.delete(key), lambda: self.local.delete(key))

    async def delete_all(self) -> None:
        await self._either(self.primary.delete_all, self.local.delete_all)

    async def exists(self, key: str) -> bool:
        return await self._either(lambda: self.primary.exists(key), lambda: self.local.exists(key))

    async def expires_in(self, key: str) -> int | None:
        return await self._either(
            lambda: self.primary.expires_in(key), lambda: self.local.expires_in(key)
        )
