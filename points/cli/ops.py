"""``points backup``, ``points restore`` and ``points jobs``: thin shells over the services."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from pathlib import Path
from typing import Any

import click

from points.errors import DomainError
from points.settings import Settings, get_settings


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:
        raise click.ClickException(f"bad setting: {exc}") from None


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup(file: Path) -> None:
    """Write a consistent backup of the database to FILE (safe while the service runs)."""
    from points.ops.backup import backup as run_backup

    settings = _settings()
    try:
        size = asyncio.run(run_backup(settings, file, actor=_who()))
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"backup written: {file} ({size:,} bytes)")


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="replace a database that already holds data")
def restore(file: Path, force: bool) -> None:
    """Load FILE into an empty database, migrate it and reconcile; exit 1 on any difference."""
    from points.ops.backup import restore as run_restore

    settings = _settings()
    try:
        report = asyncio.run(run_restore(settings, file, force=force, actor=_who()))
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    result = report.reconcile
    for problem in result.problems:
        click.echo(problem, err=True)
    click.echo(
        f"restored {file}: {result.accounts} accounts, {result.transactions} transactions, "
        f"{result.period_scores} period scores: "
        + ("clean" if result.clean else f"{len(result.problems)} differences")
    )
    if not result.clean:
        sys.exit(1)


@click.group()
def jobs() -> None:
    """Periodic jobs: list them, or run one now (for cron, or by hand)."""


@jobs.command("list")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def jobs_list(as_json: bool) -> None:
    """Each periodic job, its schedule, its last run and its next run."""
    from points.db import Database
    from points.ops.scheduler import status

    settings = _settings()

    async def run() -> Any:
        db = Database(settings)
        try:
            return await status(settings, db)
        finally:
            await db.dispose()

    rows = asyncio.run(run())
    zone = settings.zone
    data = [
        {
            "name": row.periodic.name,
            "schedule": row.periodic.describe(),
            "last_run": row.last.started_at.astimezone(zone).isoformat() if row.last else None,
            "last_status": row.last.status if row.last else None,
            "next_run": row.next_at.isoformat() if row.next_at else None,
        }
        for row in rows
    ]
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(f"{'job':<25}{'schedule':<18}{'last run':<24}next run ({settings.TIMEZONE})")
    for item in data:
        last = f"{(item['last_run'] or '—')[:16]} {item['last_status'] or ''}".strip()
        click.echo(
            f"{item['name']:<25}{item['schedule']:<18}{last:<24}{(item['next_run'] or '—')[:16]}"
        )


@jobs.command("run")
@click.argument("name")
def jobs_run(name: str) -> None:
    """Run the periodic job NAME now (idempotent: safe beside the schedule). Audited."""
    from points.db import Database
    from points.jobs import make_queue
    from points.ops.scheduler import execute, periodic_jobs
    from points.wiring import load_jobs

    load_jobs()
    names = [p.name for p in periodic_jobs()]
    if name not in names:
        raise click.ClickException(f"unknown job {name!r}; one of: {', '.join(names)}")
    settings = _settings()

    async def run() -> Any:
        db = Database(settings)
        queue = make_queue(settings, db)
        try:
            return await execute(settings, db, queue, name, trigger="cli", actor=_who())
        finally:
            await queue.close()
            await db.dispose()

    run_row = asyncio.run(run())
    assert run_row is not None  # a manual run has a slot of its own
    click.echo(f"{name}: {run_row.status} {json.dumps(run_row.result, ensure_ascii=False)}")
    if run_row.status != "ok":
        click.echo(run_row.error or "", err=True)
        sys.exit(1)
