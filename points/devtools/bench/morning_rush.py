"""Bench "morning rush": how many pages a second two web processes serve at 9 o'clock.

The demo company in a throwaway PostgreSQL database, served by ``points serve --workers
2`` (real uvicorn processes, HTTP over loopback) while ``points worker`` scores a steady
stream of fresh events (check-ins, approvals, shares) from Redis. Simulated people
arrive at a fixed rate (open loop: arrivals do not wait for answers); each one opens the
login form, logs in and opens home, the board and the catalogue, carrying only its own
session cookie. Each arrival rate is judged over a few seconds: it holds when every
answer was right and the p99 of all requests (logins included; a person's first request
timed from when they were due, so a generator running late counts against the rate) is
under 150 ms. The rate is doubled until it fails, then bisected.

The same people and client then run against a bare Starlette app served the same way
(see :mod:`points.devtools.bench.bare`), in the same run; the figure is the best rate in
pages/s (an HTML page answered: the login form, home, board and catalogue, four a person;
the login's 303 loads the server but is not a page) and the ratio is the page rate over
the bare route's.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
from redis.asyncio import Redis
from sqlmodel import col, func, select

from points.db import Database
from points.devtools.bench import BenchResult
from points.devtools.bench.scoring import activity
from points.devtools.bench.scratch import admin_sql
from points.devtools.demo.build import build_demo
from points.events.models import ActivityEvent
from points.events.service import ingest
from points.jobs import commit, make_queue
from points.org.models import Employee, EmployeeStatus
from points.settings import Settings

DEFAULT_BASE = "postgresql+asyncpg://postgres@127.0.0.1:5432"
DEFAULT_REDIS = "redis://127.0.0.1:6379/9"
PAGES = ("/", "/boards", "/rewards")
# A page is an HTML page answered: the login form and the three pages. The login itself
# (its 303) is a request, not a page.
PAGES_PER_PERSON = 1 + len(PAGES)
REQUESTS_PER_PERSON = 2 + len(PAGES)
P99_LIMIT_MS = 150.0
WORKERS = 2
GOAL_RATIO, GOAL_RATE = 0.25, 200.0
SOURCE = "rush"  # the events' source, so the bench can count what the worker scored


@dataclass(frozen=True)
class Size:
    employees: int
    days: int  # of demo activity behind the pages
    seconds: float  # each rate is judged over this long
    start: float  # the first rate tried (pages/s)
    ceiling: float  # no rate above this is tried
    bisections: int
    events_per_s: float  # fed to the worker throughout


QUICK = Size(300, 14, 1.5, 50.0, 20_000.0, 2, 20.0)
FULL = Size(300, 90, 4.0, 50.0, 20_000.0, 4, 20.0)


def _say(text: str) -> None:
    print(f"morning rush: {text}", file=sys.stderr, flush=True)


@dataclass
class Window:
    """One arrival rate, judged."""

    rate: float  # pages/s offered
    seconds: float
    people: int = 0
    pages: int = 0  # page answers that were right
    latencies: list[float] = field(default_factory=list)  # every request, in seconds
    errors: list[str] = field(default_factory=list)
    late_ms: float = 0.0  # how far behind schedule the generator sent an arrival, at worst
    slow: int = 0  # requests over the limit
    stopped: bool = False  # given up early: more than 1% of its requests were already slow

    def timed(self, seconds: float) -> None:
        self.latencies.append(seconds)
        if seconds * 1000 >= P99_LIMIT_MS:
            self.slow += 1
            if self.slow > 0.01 * self.people * REQUESTS_PER_PERSON:
                self.stopped = True

    def quantile_ms(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    @property
    def p50_ms(self) -> float:
        return self.quantile_ms(0.5)

    @property
    def p99_ms(self) -> float:
        return self.quantile_ms(0.99)

    @property
    def passed(self) -> bool:
        return (
            not self.errors
            and not self.stopped
            and bool(self.latencies)
            and self.p99_ms < P99_LIMIT_MS
        )

    def summary(self) -> dict[str, Any]:
        return {
            "rate": round(self.rate, 1),
            "p50_ms": round(self.p50_ms, 1),
            "p99_ms": round(self.p99_ms, 1),
            "requests": len(self.latencies),
            "errors": len(self.errors),
            "late_ms": round(self.late_ms, 1),
            "stopped_early": self.stopped,
            "passed": self.passed,
        }


Judge = Callable[[float], Awaitable[Window]]


async def find_rate(
    judge: Judge, *, start: float, ceiling: float, bisections: int
) -> tuple[Window | None, list[Window]]:
    """The best rate that holds: double from ``start`` until one fails, then bisect.

    When ``start`` already fails, halve (at most three times) before giving up.
    """
    tried: list[Window] = []
    best: Window | None = None
    failed: float | None = None
    rate = start
    while rate <= ceiling:
        window = await judge(rate)
        tried.append(window)
        if not window.passed:
            failed = rate
            break
        best = window
        rate *= 2
    if best is None:
        rate = start
        for _attempt in range(3):
            rate /= 2
            window = await judge(rate)
            tried.append(window)
            if window.passed:
                best = window
                break
            failed = rate
        if best is None:
            return None, tried
    if failed is None:
        return best, tried
    low, high = best.rate, failed
    for _step in range(bisections):
        middle = (low + high) / 2
        window = await judge(middle)
        tried.append(window)
        if window.passed:
            best, low = window, middle
        else:
            high = middle
    return best, tried


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """The shared client keeps no cookies: each simulated person carries its own."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


def client() -> httpx.AsyncClient:
    """One client for every simulated person (a pool of keep-alive connections)."""
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    jar = http.cookiejar.CookieJar(policy=_NoCookies())
    return httpx.AsyncClient(limits=limits, timeout=10.0, cookies=jar, follow_redirects=False)


class Crowd:
    """People arriving at a fixed rate, each logging in and opening the pages."""

    def __init__(self, http: httpx.AsyncClient, base: str, userids: Sequence[str]) -> None:
        self.http = http
        self.base = base
        self.userids = list(userids)
        self.next = 0

    async def _person(self, userid: str, due: float, window: Window) -> None:
        cookie = ""
        started = due

        async def call(method: str, path: str, expect: int, **kw: Any) -> str:
            nonlocal cookie, started
            headers = {"Cookie": cookie} if cookie else {}
            response = await self.http.request(method, self.base + path, headers=headers, **kw)
            ended = time.perf_counter()
            window.timed(ended - started)
            if response.status_code != expect:
                raise RuntimeError(f"{method} {path} answered {response.status_code}")
            sent = response.headers.get("set-cookie")
            if sent:
                cookie = sent.split(";", 1)[0]
            started = time.perf_counter()
            return response.text

        try:
            form = await call("GET", "/login", 200)
            window.pages += 1
            csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            await call("POST", "/login", 303, data={"userid": userid, "csrf_token": csrf})
            for path in PAGES:
                await call("GET", path, 200)
                window.pages += 1
        except (httpx.HTTPError, RuntimeError, IndexError) as exc:
            window.errors.append(f"{userid}: {exc!r}"[:200])

    async def window(self, rate: float, seconds: float) -> Window:
        """Send ``rate`` pages/s worth of people for ``seconds``; wait for them all."""
        window = Window(rate, seconds)
        interval = PAGES_PER_PERSON / rate
        window.people = max(1, round(seconds / interval))
        tasks = []
        begin = time.perf_counter() + 0.01
        for index in range(window.people):
            due = begin + index * interval
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            if window.stopped:
                break
            window.late_ms = max(window.late_ms, (time.perf_counter() - due) * 1000)
            userid = self.userids[self.next % len(self.userids)]
            self.next += 1
            tasks.append(asyncio.create_task(self._person(userid, due, window)))
        deadline = time.perf_counter() + 15
        pending = set(tasks)
        while pending and not window.stopped and time.perf_counter() < deadline:
            _done, pending = await asyncio.wait(pending, timeout=0.05)
        if pending and not window.stopped:
            window.errors.append(f"{len(pending)} people without an answer within 15 s")
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return window


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _process(args: list[str], env: dict[str, str], log: IO[bytes]) -> Iterator[None]:
    """A child process (its own process group, so its uvicorn workers stop with it)."""
    process = subprocess.Popen(
        args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def _points(*args: str) -> list[str]:
    return [sys.executable, "-c", "from points.cli import main; main()", *args]


def _bare(port: int) -> list[str]:
    code = (
        "import sys; from points.cli import run_uvicorn; run_uvicorn("
        "'points.devtools.bench.bare:create_bare_app', '127.0.0.1', int(sys.argv[1]), "
        f"{WORKERS})"
    )
    return [sys.executable, "-c", code, str(port)]


async def _ready(http: httpx.AsyncClient, url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if (await http.get(url)).status_code == 200:
                return
        await asyncio.sleep(0.2)
    tail = (await asyncio.to_thread(log.read_text, errors="replace"))[-2000:]
    raise RuntimeError(f"{url} did not answer within 60 s:\n{tail}")


async def _feed(settings: Settings, userids: list[str], per_second: float, stop: Any) -> int:
    """Fresh events for the worker to score, in small batches, until ``stop`` is set."""
    db = Database(settings)
    queue = make_queue(settings, db)  # arq: the worker process scores them
    shapes = activity(userids, 5_000, seed=29)  # types and attributes the rules know
    batch, interval = 5, 5 / per_second
    sent = 0
    try:
        while not stop.is_set():
            now = datetime.now(UTC)
            events = [
                shapes[(sent + i) % len(shapes)].model_copy(
                    update={
                        "external_id": f"rush:{sent + i}",
                        "occurred_at": now - timedelta(seconds=i),
                    }
                )
                for i in range(batch)
            ]
            async with db.session() as session:
                await ingest(session, SOURCE, events)
                await commit(session, queue)
            sent += batch
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
    finally:
        await queue.close()
        await db.dispose()
    return sent


async def _scored(db: Database) -> dict[str, int]:
    async with db.session() as session:
        rows = await session.exec(
            select(ActivityEvent.status, func.count())
            .where(col(ActivityEvent.source) == SOURCE)
            .group_by(col(ActivityEvent.status))
        )
        return {str(status): int(count) for status, count in rows.all()}


async def _flush(url: str) -> None:
    redis = Redis.from_url(url, socket_connect_timeout=2)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


async def measure(size: Size, base: str, redis_url: str) -> BenchResult:
    """Build, serve, feed and measure (see the module's docstring)."""
    name = f"points_bench_rush_{secrets.token_hex(4)}"
    url = f"{base}/{name}"
    await _flush(redis_url)
    await admin_sql(base, f'CREATE DATABASE "{name}"')
    try:
        _say(f"building the demo company ({size.employees} people, {size.days} days)")
        demo = Settings(DATABASE_URL=url)  # no Redis: the demo's history is scored in-process
        await build_demo(demo, employees=size.employees, days=size.days, seed=7)
        settings = Settings(DATABASE_URL=url, REDIS_URL=redis_url)
        db = Database(settings)
        try:
            async with db.session() as session:
                userids = list(
                    (
                        await session.exec(
                            select(Employee.userid)
                            .where(Employee.status == EmployeeStatus.active)
                            .order_by(col(Employee.id))
                        )
                    ).all()
                )
            details = await _serve_and_measure(size, settings, userids)
            details["events"] = await _scored(db)
        finally:
            await db.dispose()
    finally:
        await admin_sql(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await _flush(redis_url)
    figure, baseline = details["rate_pages_s"], details["bare_rate_s"]
    ratio = figure / baseline if baseline else 0.0
    met = ratio >= GOAL_RATIO and figure >= GOAL_RATE
    return BenchResult(
        name="morning rush",
        unit=f"pages/s with p99 < {P99_LIMIT_MS:.0f} ms",
        figure=figure,
        baseline=baseline,
        baseline_name=f"bare Starlette route, same client and uvicorn ({WORKERS} workers)",
        goal=f"ratio ≥ {GOAL_RATIO} and ≥ {GOAL_RATE:.0f} pages/s: "
        + ("met" if met else "NOT met"),
        details=details,
    )


async def _serve_and_measure(size: Size, settings: Settings, userids: list[str]) -> dict[str, Any]:
    env = {
        **os.environ,
        "POINTS_DATABASE_URL": settings.DATABASE_URL,
        "POINTS_REDIS_URL": settings.REDIS_URL or "",
        "POINTS_SECRET_KEY": secrets.token_hex(32),
        "POINTS_ENV": "dev",
        "POINTS_DEV_LOGIN": "true",
    }
    real_port, bare_port = _free_port(), _free_port()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        logs = {n: Path(tmp) / f"{n}.log" for n in ("serve", "worker", "bare")}
        opened = {n: stack.enter_context(path.open("wb")) for n, path in logs.items()}
        serve = ["serve", "--workers", str(WORKERS), "--port", str(real_port)]
        stack.enter_context(_process(_points(*serve), env, opened["serve"]))
        stack.enter_context(_process(_points("worker"), env, opened["worker"]))
        stack.enter_context(_process(_bare(bare_port), env, opened["bare"]))
        real_base, bare_base = f"http://127.0.0.1:{real_port}", f"http://127.0.0.1:{bare_port}"
        async with client() as http:
            await _ready(http, real_base + "/healthz", logs["serve"])
            await _ready(http, bare_base + "/healthz", logs["bare"])
            stop = asyncio.Event()
            feed = asyncio.create_task(_feed(settings, userids, size.events_per_s, stop))
            try:
                pages = Crowd(http, real_base, userids)
                bare = Crowd(http, bare_base, userids)
                found = await _search(pages, size, size.start, "pages")
                # The bare route is far cheaper: start it where the pages stopped.
                start = max(size.start, 2 * found[0].rate if found[0] else 0.0)
                bare_found = await _search(bare, size, start, "bare route")
            finally:
                stop.set()
                fed = await feed
    best, tried = found
    bare_best, bare_tried = bare_found
    return {
        "rate_pages_s": round(best.rate, 1) if best else 0.0,
        "p50_ms": round(best.p50_ms, 1) if best else None,
        "p99_ms": round(best.p99_ms, 1) if best else None,
        "bare_rate_s": round(bare_best.rate, 1) if bare_best else 0.0,
        "bare_p50_ms": round(bare_best.p50_ms, 1) if bare_best else None,
        "bare_p99_ms": round(bare_best.p99_ms, 1) if bare_best else None,
        "pages": ["/login", *PAGES],
        "requests_per_person": REQUESTS_PER_PERSON,
        "people_per_s": round(best.rate / PAGES_PER_PERSON, 1) if best else 0.0,
        "windows": [w.summary() for w in tried],
        "bare_windows": [w.summary() for w in bare_tried],
        "errors": sorted({e for w in tried + bare_tried for e in w.errors})[:5],
        "judged_s": size.seconds,
        "employees": size.employees,
        "demo_days": size.days,
        "events_fed": fed,
        "web": f"points serve --workers {WORKERS}, PostgreSQL, jobs by points worker (Redis)",
    }


async def _search(
    crowd: Crowd, size: Size, start: float, label: str
) -> tuple[Window | None, list[Window]]:
    # Warm up first: every web process compiles its templates and rules and fills its pool.
    await crowd.window(30.0, 1.0)

    async def judge(rate: float) -> Window:
        window = await crowd.window(rate, size.seconds)
        _say(f"{label} at {rate:.0f}/s: {window.summary()}")
        await asyncio.sleep(0.3 if window.passed else 1.5)  # let a backlog drain
        return window

    return await find_rate(judge, start=start, ceiling=size.ceiling, bisections=size.bisections)


async def run(quick: bool) -> BenchResult:
    base = os.environ.get("POINTS_BENCH_PG", DEFAULT_BASE).rstrip("/")
    redis_url = os.environ.get("POINTS_BENCH_REDIS", DEFAULT_REDIS)
    return await measure(QUICK if quick else FULL, base, redis_url)
