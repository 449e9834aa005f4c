"""Fault-test tools: private Redis and PostgreSQL instances, a worker process, a workload.

The shared services on 5432/6379 are never stopped: tests that restart a service
start a private one of their own on a free port and always clean it up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, func, select

from points.db import Database
from points.events.models import ActivityEvent, EventStatus
from points.events.schemas import EventIn
from points.events.service import ingest
from points.jobs import commit
from points.ledger.models import LedgerTransaction, TransactionKind
from points.ledger.reconcile import reconcile
from points.org.models import Employee
from points.settings import Settings
from tests.support.factories import make_department, make_employee
from tests.support.services import IN_CI, TEST_SECRET, service_missing

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Scored with the default rules, each event of this workload earns exactly one award
# whatever order the workers take them in: unique approvals and customers, few per
# person per day (under every cap), no cooldowns, no streaks.
POINTS_PER_TYPE = {"approval.submitted": 5, "customer.added": 1}
WAIT_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {seconds}s")


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


class PrivateRedis:
    """A throwaway redis-server on its own port; ``restart`` loses everything in it."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="points-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *(self.binary, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, signal.SIGKILL)
            self.process = None

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivatePostgres:
    """A throwaway PostgreSQL cluster (initdb as the postgres OS user) on its own port."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="points-pg-")
        self.data = Path(self.dir) / "data"
        self.running = False

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str, timeout: float = 60) -> None:
        command = [str(a) for a in args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(
            command, check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._as_postgres(
            self.bindir / "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres"
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._as_postgres(
            self.bindir / "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(Path(self.dir) / "log"),
            "-w",
            "start",
        )
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        if self.running:
            self._as_postgres(
                self.bindir / "pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop"
            )
            self.running = False

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def cleanup(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        service_missing("redis-server", FileNotFoundError("redis-server"))
        raise AssertionError("unreachable")
    server = PrivateRedis(binary)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


def _postgres_bindir() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bindir = _postgres_bindir()
    if bindir is None:
        service_missing("initdb (a private PostgreSQL cluster)", FileNotFoundError("initdb"))
        raise AssertionError("unreachable")
    server = PrivatePostgres(bindir)
    try:
        try:
            server.init()
            server.start()
        except (subprocess.SubprocessError, OSError) as exc:
            if IN_CI:
                raise
            service_missing("a private PostgreSQL cluster", exc)
        yield server
    finally:
        server.cleanup()


class WorkerProcess:
    """``points worker`` as a child process, the way production runs it."""

    def __init__(self, database_url: str, redis_url: str, log: Path) -> None:
        self.env = {
            **os.environ,
            "POINTS_DATABASE_URL": database_url,
            "POINTS_REDIS_URL": redis_url,
            "POINTS_SECRET_KEY": TEST_SECRET,
        }
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        points = Path(sys.executable).parent / "points"
        command = [str(points)] if points.exists() else [sys.executable, "-m", "points.cli"]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*command, "worker"], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, transactions cut off mid-way."""
        if self.process is not None:
            _stop(self.process, signal.SIGKILL)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, signal.SIGTERM)
            self.process = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


@pytest.fixture
def worker_log(tmp_path: Path) -> Path:
    return tmp_path / "worker.log"


async def make_people(db: Database, count: int) -> list[str]:
    """``count`` employees in two departments; returns their userids."""
    async with db.session() as session:
        sales = await make_department(session, "销售部")
        admin = await make_department(session, "行政部")
        userids = []
        for n in range(count):
            employee = await make_employee(
                session, sales if n % 2 else admin, userid=f"fault{n:04d}", name=f"员工{n}"
            )
            userids.append(employee.userid)
        await session.commit()
    return userids


def workload(userids: Sequence[str], count: int, start: datetime | None = None) -> list[EventIn]:
    """``count`` events, one award each (see POINTS_PER_TYPE), spread over people and days."""
    start = start or datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
    events = []
    people = len(userids)
    for n in range(count):
        actor = userids[n % people]
        round_ = n // people  # this person's n-th event: one a day, alternating types
        when = start + timedelta(days=round_ // 2, hours=round_ % 2, minutes=n % 50)
        if round_ % 2 == 0:
            events.append(
                EventIn(
                    external_id=f"approval:{n}:submitted",
                    type="approval.submitted",
                    actor=actor,
                    occurred_at=when,
                    attributes={"template": "报销", "sp_no": f"SP{n}", "on_time": True},
                )
            )
        else:
            events.append(
                EventIn(
                    external_id=f"customer:{n}:added",
                    type="customer.added",
                    actor=actor,
                    occurred_at=when,
                    attributes={"external_userid": f"wm{n}"},
                )
            )
    return events


def expected_points(events: Sequence[EventIn]) -> int:
    return sum(POINTS_PER_TYPE[e.type] for e in events)


async def store_events(db: Database, events: Sequence[EventIn], batch: int = 1000) -> list[int]:
    """Intake only (no queue): the events are stored pending; returns their ids in order."""
    ids: list[int] = []
    for start in range(0, len(events), batch):
        async with db.session() as session:
            results = await ingest(session, "api", events[start : start + batch])
            await commit(session, None)
        assert {r.status for r in results} == {"created"}
        ids += [r.event_id for r in results]
    return ids


async def count_scored(db: Database) -> int:
    async with db.session() as session:
        return int(
            (
                await session.exec(
                    select(func.count()).where(ActivityEvent.status == EventStatus.scored)
                )
            ).one()
        )


async def wait_until_scored(
    db: Database, total: int, seconds: float = WAIT_SECONDS, worker: WorkerProcess | None = None
) -> None:
    """Poll until every event is scored (bounded; a dead worker fails fast)."""
    deadline = time.monotonic() + seconds
    scored = 0
    while time.monotonic() < deadline:
        try:
            scored = await count_scored(db)
        except OSError:
            scored = -1  # the database is restarting
        if scored == total:
            return
        if worker is not None and not worker.alive():
            raise AssertionError(f"the worker died:\n{worker.output()}")
        await asyncio.sleep(0.2)
    tail = worker.output() if worker else ""
    raise AssertionError(f"only {scored} of {total} events scored after {seconds}s\n{tail}")


async def wait_until(db: Database, at_least: int, seconds: float = WAIT_SECONDS) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        scored = await count_scored(db)
        if scored >= at_least:
            return scored
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} events scored after {seconds}s")


async def assert_scored_exactly_once(
    db: Database, settings: Settings, events: Sequence[EventIn]
) -> None:
    """Every event scored, one award per event, points as expected, reconcile clean."""
    async with db.session() as session:
        statuses = dict(
            (
                await session.exec(
                    select(ActivityEvent.status, func.count()).group_by(ActivityEvent.status)
                )
            ).all()
        )
        assert statuses == {EventStatus.scored: len(events)}, statuses
        awards = (
            await session.exec(
                select(LedgerTransaction.event_id, LedgerTransaction.rule_id).where(
                    LedgerTransaction.kind == TransactionKind.award
                )
            )
        ).all()
        assert len(awards) == len(set(awards)), "an (event, rule) pair was awarded twice"
        assert len({event_id for event_id, _rule in awards}) == len(events)
        assert len(awards) == len(events)
        total = (
            await session.exec(
                select(func.coalesce(func.sum(LedgerTransaction.points), 0)).where(
                    col(LedgerTransaction.kind) == TransactionKind.award
                )
            )
        ).one()
        assert total == expected_points(events)
        report = await reconcile(session, settings.zone)
        assert report.clean, report.problems
        assert report.transactions == len(events)


async def employee_count(db: Database) -> int:
    async with db.session() as session:
        return int((await session.exec(select(func.count()).select_from(Employee))).one())
