"""Periodic jobs without Redis: one run per slot across processes, the CLI, reminders."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlmodel import col, select

from points.audit.models import AuditEntry
from points.db import Database, utcnow
from points.devtools.demo.build import build_demo
from points.devtools.fake_wecom import FakeWeCom, serve_in_thread
from points.jobs import InlineQueue, JobContext, job
from points.ledger.expiry_reminders import KIND, send_reminders
from points.ledger.models import TransactionKind
from points.ledger.reconcile import reconcile
from points.ledger.service import Posting, earning_legs
from points.ledger.writer import post
from points.migrate import upgrade
from points.notifications.models import Notification
from points.ops import scheduler
from points.ops.models import JobRun
from tests.support.factories import login
from tests.support.operations import Company
from tests.support.services import Store, make_settings

POINTS = str(Path(sys.executable).with_name("points"))
RUNS: list[str] = []


@job("test_counted")
async def counted(ctx: JobContext) -> dict[str, int]:
    RUNS.append("run")
    await asyncio.sleep(0.05)  # long enough for the other process to try the same slot
    return {"runs": len(RUNS)}


async def test_a_slot_runs_in_one_process_only(store: Store) -> None:
    RUNS.clear()
    other = Database(store.settings)  # a second process's pool on the same database
    try:
        queue = InlineQueue(store.settings, store.db)
        slot = "2026-11-27T00:40"
        results = await asyncio.gather(
            *(
                scheduler.execute(store.settings, db, queue, "test_counted", slot=slot)
                for db in (store.db, other, store.db, other)
            )
        )
        assert len(RUNS) == 1
        assert sum(r is not None for r in results) == 1
        # Runs by hand have slots of their own: both run (the job itself is idempotent).
        await scheduler.execute(store.settings, store.db, queue, "test_counted", trigger="cli")
        await scheduler.execute(store.settings, other, queue, "test_counted", trigger="cli")
        assert len(RUNS) == 3
    finally:
        await other.dispose()
    async with store.db.session() as session:
        runs = (await session.exec(select(JobRun).where(JobRun.job == "test_counted"))).all()
        assert sorted(r.trigger for r in runs) == ["cli", "cli", "schedule"]
        assert all(r.status == "ok" and r.finished_at for r in runs)
        audited = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "job.run"))
        ).all()
        assert len(audited) == 3
        # Runs are kept 90 days, then forgotten by the retention job.
        assert await scheduler.prune_runs(session, utcnow() + timedelta(days=89)) == 0
        assert await scheduler.prune_runs(session, utcnow() + timedelta(days=91)) == 3


def test_slots_follow_the_schedule_in_the_company_zone() -> None:
    zone = make_settings("sqlite+aiosqlite:///x.db").zone
    expiry = scheduler.find("expire_points")
    outbox = scheduler.find("wecom_send_outbox")
    now = datetime(2026, 11, 27, 8, 3, tzinfo=zone)
    assert expiry.previous(now) == datetime(2026, 11, 27, 0, 40, tzinfo=zone)
    assert expiry.next(now) == datetime(2026, 11, 28, 0, 40, tzinfo=zone)
    assert outbox.previous(now) == datetime(2026, 11, 27, 8, 0, tzinfo=zone)
    assert outbox.describe() == "every 5 min"
    assert expiry.describe() == "daily at 00:40"


async def _old_credit(store: Store, employee_id: int, points: int, days_ago: int) -> None:
    async with store.db.session() as session:
        await post(
            session,
            [
                Posting(
                    key=f"test-old:{employee_id}:{days_ago}:{points}",
                    kind=TransactionKind.adjustment,
                    employee_id=employee_id,
                    points=points,
                    effective_at=utcnow() - timedelta(days=days_ago),
                    legs=earning_legs(employee_id, points),
                    author="test",
                    reason="测试积分",
                )
            ],
            store.settings.zone,
        )
        await session.commit()


async def test_expiry_reminder_by_app_message_once_and_on_home(
    store: Store, company: Company, web: httpx.AsyncClient
) -> None:
    assert company.employee.id is not None
    # Earned 50 days ago, 30 days ago and today; points expire after two months.
    await _old_credit(store, company.employee.id, 20, 50)
    await _old_credit(store, company.employee.id, 7, 30)
    await _old_credit(store, company.employee.id, 5, 0)
    settings = store.settings.model_copy(update={"EXPIRY_MONTHS": 2, "EXPIRY_REMINDER_DAYS": 14})
    today = utcnow().astimezone(settings.zone).date()
    async with store.db.session() as session:
        first = await send_reminders(session, settings, today)
        again = await send_reminders(session, settings, today)
        await session.commit()
        assert first == {"people": 1, "points": 20}
        assert again == {"people": 0, "points": 0}
        messages = (await session.exec(select(Notification).where(Notification.kind == KIND))).all()
        assert [m.userid for m in messages] == ["zhangsan"]
        assert "20 分" in messages[0].title
    # Nothing is due within 3 days: no message.
    near = settings.model_copy(update={"EXPIRY_REMINDER_DAYS": 3})
    async with store.db.session() as session:
        assert (await send_reminders(session, near, today))["people"] == 0
    # Home says how many expire when (the served app reads the same settings).
    web_app = web._transport.app  # type: ignore[attr-defined]
    web_app.state.settings = settings
    await login(web, "zhangsan")
    home = await web.get("/")
    assert 'data-testid="expiring"' in home.text
    assert "20" in home.text.split('data-testid="expiring"')[1][:120]


async def test_jobs_cli_runs_one_and_lists_its_last_run(lite: Store) -> None:
    url = lite.settings.DATABASE_URL
    env = {**os.environ, "POINTS_DATABASE_URL": url, "POINTS_SECRET_KEY": "x" * 40}
    env.pop("POINTS_REDIS_URL", None)
    ran = await asyncio.to_thread(
        subprocess.run,
        [POINTS, "jobs", "run", "expire_redemptions"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("expire_redemptions: ok")
    unknown = await asyncio.to_thread(
        subprocess.run, [POINTS, "jobs", "run", "nope"], env=env, capture_output=True, text=True
    )
    assert unknown.returncode != 0
    assert "expire_points" in unknown.stderr
    listed = await asyncio.to_thread(
        subprocess.run,
        [POINTS, "jobs", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["expire_redemptions"]["last_status"] == "ok"
    assert rows["expire_points"]["last_run"] is None
    assert rows["expire_points"]["schedule"] == "daily at 00:40"
    assert rows["expire_points"]["next_run"]


async def test_admin_jobs_page_shows_runs_and_runs_one(
    store: Store, company: Company, web: httpx.AsyncClient
) -> None:
    from tests.support.factories import csrf_from

    await login(web, "sunqi")
    page = await web.get("/admin/jobs")
    assert page.status_code == 200
    assert "expire_points" in page.text
    done = await web.post(
        "/admin/jobs", data={"csrf_token": csrf_from(page.text), "job": "expire_redemptions"}
    )
    assert done.status_code == 303
    page = await web.get("/admin/jobs")
    assert "admin" in page.text  # the run's trigger
    async with store.db.session() as session:
        run = (await session.exec(select(JobRun))).one()
        assert (run.job, run.trigger, run.status) == ("expire_redemptions", "admin", "ok")
        audit = (await session.exec(select(AuditEntry).where(AuditEntry.action == "job.run"))).one()
        assert audit.actor == "sunqi"
    # HR may not run jobs.
    await login(web, "zhaoliu")
    assert (await web.get("/admin/jobs")).status_code == 403


def _start_server(port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [POINTS, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop_servers(servers: list[subprocess.Popen[str]]) -> list[tuple[str, str]]:
    for server in servers:
        server.send_signal(signal.SIGINT)
    return [server.communicate(timeout=60) for server in servers]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_two_serve_processes_send_and_expire_each_once(tmp_path: Path) -> None:
    """No Redis: `points serve` runs the schedule; two of them on one database never double."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'points.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = make_settings(url, EXPIRY_MONTHS=1)
    await build_demo(settings, employees=30, days=45, seed=5)
    db = Database(settings)
    async with db.session() as session:
        queued = (await session.exec(select(Notification.userid))).all()
    assert queued
    fake = FakeWeCom.demo()
    # The company's people can receive app messages (in no department the directory lists).
    fake.users += [{"userid": u, "department": [999], "status": 1} for u in set(queued)]
    ports = [_free_port(), _free_port()]
    with serve_in_thread(fake.app()) as fake_url:
        env = {
            **os.environ,
            "POINTS_DATABASE_URL": url,
            "POINTS_SECRET_KEY": "s" * 40,
            "POINTS_EXPIRY_MONTHS": "1",
            "POINTS_WECOM_ENABLED": "true",
            "POINTS_WECOM_CORP_ID": fake.corp_id,
            "POINTS_WECOM_AGENT_ID": str(fake.agent_id),
            "POINTS_WECOM_SECRET": fake.secret,
            "POINTS_WECOM_TOKEN": "token",
            "POINTS_WECOM_AES_KEY": "a" * 43,
            "POINTS_WECOM_API_BASE": fake_url,
        }
        env.pop("POINTS_REDIS_URL", None)
        servers = [_start_server(port, env) for port in ports]
        try:
            deadline = time.monotonic() + 120
            wanted = {"expire_points", "wecom_send_outbox", "expire_redemptions"}
            finished: set[str] = set()
            while time.monotonic() < deadline and not wanted <= finished:
                await asyncio.sleep(1)
                async with db.engine.connect() as conn:
                    rows = await conn.execute(
                        text("SELECT job FROM job_run WHERE status <> 'running'")
                    )
                    finished = {row[0] for row in rows}
            assert wanted <= finished, finished
            # Both processes were up and scheduling.
            async with httpx.AsyncClient() as client:
                for port in ports:
                    assert (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
        finally:
            logs = _stop_servers(servers)
    for _out, err in logs:
        assert "periodic jobs run in this process" in err, err[-2000:]

    async with db.session() as session:
        runs = (await session.exec(select(JobRun))).all()
        # One row per job and slot, and no slot of any job run by both processes.
        slots = [(r.job, r.slot) for r in runs]
        assert len(slots) == len(set(slots))
        assert {r.status for r in runs if r.job in wanted} == {"ok"}
        sent = (
            await session.exec(select(Notification).where(col(Notification.sent_at).is_not(None)))
        ).all()
        expired = (
            await session.exec(
                text(
                    "SELECT employee_id, count(*) FROM ledger_transaction "
                    "WHERE kind = 'expiry' GROUP BY employee_id"
                )
            )
        ).all()
        report = await reconcile(session, settings.zone)
    await db.dispose()
    # Every queued message went out, once: the fake WeCom saw each recipient once per message.
    assert sent, [(r.job, r.result, r.error) for r in runs]
    recipients = list(
        itertools.chain.from_iterable(m["touser"].split("|") for m in fake.sent_messages)
    )
    assert len(recipients) == len(sent)
    assert expired and all(count == 1 for _e, count in expired)
    assert report.clean, report.problems
