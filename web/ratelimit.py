"""Failure limits per client: failed logins, rejected API tokens, bad callback signatures.

Only failures are counted, in fixed windows (``POINTS_RATE_LIMIT_WINDOW_SECONDS``);
a client over its limit gets 429 with ``Retry-After`` until the window ends. With
``POINTS_REDIS_URL`` the counts live in Redis (shared by every web process); without
it, or while Redis cannot be reached, in this process.

The audit log gets the failures in aggregate: one row when a client's first failure
of a window happens and one when it reaches the limit, each with the count so far —
never a row per request, so a flood cannot flood the log.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis
from redis.exceptions import RedisError

from points.audit.service import record
from points.db import Database
from points.errors import DomainError
from points.i18n import _
from points.settings import Settings

log = logging.getLogger(__name__)

Kind = Literal["login", "token", "callback"]


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class _Window:
    start: int
    seconds: int

    @property
    def remaining(self) -> int:
        return max(1, self.start + self.seconds - int(time.time()))


class FailureLimiter:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.window_seconds = settings.RATE_LIMIT_WINDOW_SECONDS
        self.limits: dict[Kind, int] = {
            "login": settings.LOGIN_FAILURE_LIMIT,
            "token": settings.TOKEN_FAILURE_LIMIT,
            "callback": settings.CALLBACK_FAILURE_LIMIT,
        }
        self.db = db
        self.redis = (
            Redis.from_url(settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)
            if settings.REDIS_URL
            else None
        )
        self.local: dict[str, int] = {}

    def _window(self) -> _Window:
        now = int(time.time())
        return _Window(now - now % self.window_seconds, self.window_seconds)

    @staticmethod
    def _key(kind: Kind, client: str, window: _Window) -> str:
        return f"points:failures:{kind}:{client}:{window.start}"

    async def _read(self, key: str) -> int:
        if self.redis is not None:
            try:
                value = await self.redis.get(key)
                return int(value or 0)
            except RedisError as exc:
                log.warning("failure limits: Redis unreachable (%r); counting in-process", exc)
        return self.local.get(key, 0)

    async def _increment(self, key: str) -> int:
        if self.redis is not None:
            try:
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.incr(key)
                    pipe.expire(key, self.window_seconds * 2)
                    count, _ok = await pipe.execute()
                return int(count)
            except RedisError as exc:
                log.warning("failure limits: Redis unreachable (%r); counting in-process", exc)
        if len(self.local) > 100_000:  # old windows: forget them rather than grow forever
            self.local.clear()
        self.local[key] = self.local.get(key, 0) + 1
        return self.local[key]

    async def check(self, kind: Kind, client: str) -> None:
        """Refuse (429) a client that already used up its failures in this window."""
        window = self._window()
        if await self._read(self._key(kind, client, window)) >= self.limits[kind]:
            raise RateLimited(
                _("Too many failed attempts. Try again in {seconds} seconds.").format(
                    seconds=window.remaining
                ),
                retry_after=window.remaining,
            )

    async def failed(self, kind: Kind, client: str) -> int:
        """Count one failure; the first and the limit-reaching one are audited."""
        window = self._window()
        count = await self._increment(self._key(kind, client, window))
        if count in (1, self.limits[kind]):
            async with self.db.session() as session:
                await record(
                    session,
                    actor="system",
                    action=f"refused.{kind}",
                    target=client,
                    details={
                        "window_start": window.start,
                        "window_seconds": window.seconds,
                        "count": count,
                        "limited": count >= self.limits[kind],
                    },
                    ip=client,
                )
                await session.commit()
        return count

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
