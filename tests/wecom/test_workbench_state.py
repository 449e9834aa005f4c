"""WeCom's per-person limit for workbench cards: a sliding minute, in Redis and in memory."""

from __future__ import annotations

from typing import Any

from points.wecom.workbench_state import CallLimiter


async def _fill(limiter: CallLimiter) -> list[float]:
    # 12 calls for one person, one a second: the 11th and 12th wait for the first slots.
    return [await limiter.take("zhangsan", 1000.0 + second) for second in range(12)]


async def test_the_limit_is_a_sliding_minute_in_memory() -> None:
    limiter = CallLimiter(None, "test:")
    waits = await _fill(limiter)
    assert waits[:10] == [0.0] * 10 and waits[10:] == [50.0, 49.0]
    assert await limiter.take("lisi", 1011.0) == 0.0  # per person
    assert await limiter.take("zhangsan", 1060.5) == 0.0  # the first call left the minute


async def test_the_limit_is_shared_through_redis(redis_client: Any) -> None:
    await redis_client.delete("test-workbench:calls:zhangsan")
    first = CallLimiter(redis_client, "test-workbench:")
    second = CallLimiter(redis_client, "test-workbench:")  # another worker
    assert [await first.take("zhangsan", 1000.0 + s) for s in range(5)] == [0.0] * 5
    waits = [await second.take("zhangsan", 1005.0 + s) for s in range(7)]
    assert waits[:5] == [0.0] * 5 and waits[5:] == [50.0, 49.0]
    await redis_client.delete("test-workbench:calls:zhangsan")
