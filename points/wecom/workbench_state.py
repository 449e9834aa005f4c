"""What the workbench card job remembers between runs, and WeCom's per-person call limit.

With ``POINTS_REDIS_URL`` everything lives in Redis, shared by every worker; without it
(the embedded default: one process) in this process. Losing it costs little: a card
is set again at the next change of that person's points.

- the ledger cursor: the highest ledger line seen by the last two runs;
- people waiting for their card, with the attempts so far and when to try next;
- per person, a digest of what their card shows now (an unchanged card is not sent);
- per person, the times of the calls of the last minute (WeCom allows
  :data:`CALLS_PER_MINUTE` ``set_workbench_data`` calls a minute per person and app).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis

from points.settings import Settings
from points.wecom.tokens import InMemoryTokenStore, RedisTokenStore, TokenStore

#: WeCom: "每个用户每个应用接口限制10次/分钟" for set_workbench_data.
CALLS_PER_MINUTE = 10
WINDOW_SECONDS = 60.0
#: How long remembered values live (the cursor and pending set are rewritten each run).
KEEP_SECONDS = 30 * 86400.0

# A sliding window of call times per person: drop what is older than the window, then
# take a slot if fewer than the limit remain; otherwise answer how long until one frees.
_TAKE_SLOT = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, math.ceil(window * 1000) + 1000)
  return '0'
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""


@dataclass
class Pending:
    """A person whose card is due: failed attempts so far and the earliest next try."""

    attempts: int = 0
    next_at: float = 0.0


class CallLimiter:
    """At most ``limit`` calls per person in any ``window`` seconds (sliding)."""

    def __init__(
        self,
        redis: Redis | None,
        prefix: str,
        limit: int = CALLS_PER_MINUTE,
        window: float = WINDOW_SECONDS,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self.limit = limit
        self.window = window
        self._local: dict[str, deque[float]] = {}
        self._serial = 0

    async def take(self, userid: str, now: float) -> float:
        """Take a call slot at ``now``: 0 when taken, else the seconds until one frees."""
        self._serial += 1
        if self._redis is not None:
            pending = cast(
                "Awaitable[Any]",
                self._redis.eval(
                    _TAKE_SLOT,
                    1,
                    f"{self._prefix}calls:{userid}",
                    repr(now),
                    repr(self.window),
                    str(self.limit),
                    f"{now!r}:{self._serial}",
                ),
            )
            answer = await pending
            text = answer.decode() if isinstance(answer, bytes) else str(answer)
            return max(0.0, float(text))
        calls = self._local.setdefault(userid, deque())
        while calls and calls[0] <= now - self.window:
            calls.popleft()
        if len(calls) < self.limit:
            calls.append(now)
            return 0.0
        return calls[0] + self.window - now


# One per process without Redis (the embedded default).
_memory_values = InMemoryTokenStore()
_memory_limiters: dict[str, CallLimiter] = {}


class CardState:
    """The job's memory (see the module docstring), under one key prefix per app."""

    def __init__(self, values: TokenStore, limiter: CallLimiter, redis: Redis | None) -> None:
        self.values = values
        self.limiter = limiter
        self._redis = redis

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    async def _json(self, key: str, default: Any) -> Any:
        text = await self.values.get(key)
        if not text:
            return default
        try:
            return json.loads(text)
        except ValueError:
            return default

    async def cursor(self) -> list[int] | None:
        """The highest ledger line id seen by the run before last and by the last run."""
        found = await self._json("cursor", None)
        if isinstance(found, list) and len(found) == 2:
            return [int(found[0]), int(found[1])]
        return None

    async def save_cursor(self, older: int, newer: int) -> None:
        await self.values.set("cursor", json.dumps([older, newer]), KEEP_SECONDS)

    async def pending(self) -> dict[int, Pending]:
        found = await self._json("pending", {})
        return {int(k): Pending(int(v[0]), float(v[1])) for k, v in found.items()}

    async def save_pending(self, pending: dict[int, Pending]) -> None:
        data = {str(k): [p.attempts, p.next_at] for k, p in sorted(pending.items())}
        await self.values.set("pending", json.dumps(data), KEEP_SECONDS)

    async def shown(self, userid: str) -> str | None:
        """The digest of what this person's card shows (None: unknown)."""
        return await self.values.get(f"shown:{userid}")

    async def remember_shown(self, userid: str, digest: str) -> None:
        await self.values.set(f"shown:{userid}", digest, KEEP_SECONDS)

    async def template_set(self, digest: str) -> bool:
        return bool(await self.values.get(f"template:{digest}"))

    async def remember_template(self, digest: str) -> None:
        await self.values.set(f"template:{digest}", "1", KEEP_SECONDS)


def open_state(settings: Settings) -> CardState:
    """The state of this app's cards: Redis when configured, else this process."""
    prefix = f"points:workbench:{settings.WECOM_CORP_ID}:{settings.WECOM_AGENT_ID}:"
    if settings.REDIS_URL:
        redis = Redis.from_url(settings.REDIS_URL)
        return CardState(RedisTokenStore(redis, prefix), CallLimiter(redis, prefix), redis)
    limiter = _memory_limiters.setdefault(prefix, CallLimiter(None, prefix))
    return CardState(_PrefixedStore(_memory_values, prefix), limiter, None)


class _PrefixedStore:
    """The shared in-memory store, under this app's prefix."""

    def __init__(self, store: TokenStore, prefix: str) -> None:
        self._store = store
        self._prefix = prefix

    async def get(self, key: str) -> str | None:
        return await self._store.get(self._prefix + key)

    async def set(self, key: str, value: str, ttl_seconds: float) -> None:
        await self._store.set(self._prefix + key, value, ttl_seconds)

    async def delete(self, key: str, *, only_if: str | None = None) -> None:
        await self._store.delete(self._prefix + key, only_if=only_if)
