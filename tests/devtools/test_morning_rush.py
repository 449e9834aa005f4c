"""The morning rush bench: its rate search, and its whole run at a tiny size.

Timings depend on the machine, so nothing here asserts one: only that the search finds
the edge it is shown, and that a real run serves every person right and reports its keys.
"""

from __future__ import annotations

import pytest

from points.devtools.bench.morning_rush import PAGES, Judge, Size, Window, find_rate, measure
from tests.support.services import PG_ADMIN_DSN


def _judge(capacity: float, tried: list[float]) -> Judge:
    """A judge that passes every rate up to ``capacity`` (p99 well under the limit)."""

    async def judge(rate: float) -> Window:
        tried.append(rate)
        window = Window(rate, 1.0, people=10)
        window.latencies = [0.010 if rate <= capacity else 0.400] * 50
        return window

    return judge


async def test_the_search_doubles_then_bisects_to_the_edge() -> None:
    tried: list[float] = []
    best, windows = await find_rate(_judge(137, tried), start=50, ceiling=10_000, bisections=3)
    assert tried == [50, 100, 200, 150, 125, 137.5]
    assert best is not None and best.rate == 125
    assert [w.passed for w in windows] == [True, True, False, False, True, False]


async def test_the_search_halves_when_the_first_rate_fails_and_stops_at_the_ceiling() -> None:
    tried: list[float] = []
    best, _windows = await find_rate(_judge(30, tried), start=50, ceiling=10_000, bisections=1)
    assert tried == [50, 25, 37.5]
    assert best is not None and best.rate == 25

    tried.clear()
    best, _windows = await find_rate(_judge(1e9, tried), start=50, ceiling=400, bisections=2)
    assert tried == [50, 100, 200, 400]
    assert best is not None and best.rate == 400

    tried.clear()
    best, _windows = await find_rate(_judge(1, tried), start=40, ceiling=400, bisections=2)
    assert tried == [40, 20, 10, 5]
    assert best is None


def test_a_window_gives_up_once_more_than_one_percent_is_slow() -> None:
    window = Window(100.0, 1.0, people=20)  # 100 requests expected
    for _ in range(99):
        window.timed(0.005)
    window.timed(0.2)
    assert not window.stopped and window.passed
    window.timed(0.2)
    assert window.stopped and not window.passed


@pytest.mark.slow
async def test_a_tiny_run_serves_every_person_and_reports_its_figures(redis_url: str) -> None:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    tiny = Size(
        employees=40, days=2, seconds=0.6, start=6.0, ceiling=12.0, bisections=0, events_per_s=10
    )
    result = await measure(tiny, base, redis_url)
    details = result.details
    assert result.name == "morning rush"
    for key in ("rate_pages_s", "p50_ms", "p99_ms", "bare_rate_s", "bare_p50_ms", "bare_p99_ms"):
        assert key in details
    assert details["pages"] == ["/login", *PAGES]
    # Every person got the login form, the 303 and each page with 200 (else an error).
    assert details["errors"] == []
    windows = details["windows"] + details["bare_windows"]
    assert windows and all(w["errors"] == 0 for w in windows)
    assert all(w["requests"] > 0 for w in windows)
    assert [w["rate"] for w in details["windows"]][:1] == [6.0]
    assert result.figure in {0.0, *(w["rate"] for w in details["windows"] if w["passed"])}
    assert details["events_fed"] > 0
