"""Where the access token lives: Redis (shared by every process) or process memory."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Protocol, cast

from redis.asyncio import Redis

__all__ = ["InMemoryTokenStore", "RedisTokenStore", "TokenStore"]


class TokenStore(Protocol):
    """Where the access token lives; shared across processes in production."""

    async def get(self, key: str) -> str | None:
        """The cached value, or None when absent or expired."""
        ...

    async def set(self, key: str, value: str, ttl_seconds: float) -> None:
        """Store ``value`` for ``ttl_seconds``."""
        ...

    async def delete(self, key: str, *, only_if: str | None = None) -> None:
        """Remove the value; with ``only_if``, only when it still equals that value."""
        ...


class InMemoryTokenStore:
    """A per-process token store (embedded mode and tests)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._values: dict[str, tuple[str, float]] = {}

    async def get(self, key: str) -> str | None:
        """The cached value, or None when absent or expired."""
        item = self._values.get(key)
        if item is None:
            return None
        value, expires = item
        if self._clock() >= expires:
            del self._values[key]
            return None
        return value

    async def set(self, key: str, value: str, ttl_seconds: float) -> None:
        """Store ``value`` for ``ttl_seconds``."""
        self._values[key] = (value, self._clock() + ttl_seconds)

    async def delete(self, key: str, *, only_if: str | None = None) -> None:
        """Remove the value; with ``only_if``, only when it still equals that value."""
        item = self._values.get(key)
        if item is not None and (only_if is None or item[0] == only_if):
            del self._values[key]


# Compare-and-delete in one step, so a process that saw a stale token does not delete
# the fresh one another process has just stored.
_DELETE_IF_EQUAL = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisTokenStore:
    """Token store in Redis, shared by web processes and workers."""

    def __init__(self, redis: Redis, prefix: str = "points:wecom:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def get(self, key: str) -> str | None:
        """The cached value, or None when absent or expired."""
        value = await self._redis.get(self._prefix + key)
        if value is None:
            return None
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    async def set(self, key: str, value: str, ttl_seconds: float) -> None:
        """Store ``value`` for ``ttl_seconds`` (at least one second)."""
        await self._redis.set(self._prefix + key, value, px=max(1000, int(ttl_seconds * 1000)))

    async def delete(self, key: str, *, only_if: str | None = None) -> None:
        """Remove the value; with ``only_if``, only when it still equals that value."""
        if only_if is None:
            await self._redis.delete(self._prefix + key)
        else:
            # redis-py types eval for both sync and async clients; it is awaitable here.
            pending = cast(
                "Awaitable[object]",
                self._redis.eval(_DELETE_IF_EQUAL, 1, self._prefix + key, only_if),
            )
            await pending
