"""The ``points`` command line. Each command is a thin shell over a service."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from points.settings import Settings, UnsafeSettings, get_settings

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise click.ClickException(f"bad setting: {exc}") from None


def _run(factory: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(factory())  # type: ignore[arg-type]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """WeCom Points: points for real use of WeCom, redeemed for office benefits."""


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic)."""
    from points.migrate import upgrade

    settings = _settings()
    upgrade(settings.DATABASE_URL)
    click.echo(f"database is up to date ({_safe_url(settings.DATABASE_URL)})")


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" not in url:
        return url
    scheme, _sep, rest = url.partition("://")
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


@main.command()
@click.option("--employees", default=300, show_default=True, type=click.IntRange(10, 50_000))
@click.option(
    "--days",
    default=90,
    show_default=True,
    type=click.IntRange(0, 730),
    help="days of activity to generate",
)
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="build the demo and exit")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def demo(employees: int, days: int, seed: int, no_serve: bool, host: str, port: int) -> None:
    """Build a realistic demo company and serve it with a role switcher."""
    from points.demo.build import build_demo

    settings = _settings()
    summary = _run(lambda: build_demo(settings, employees=employees, days=days, seed=seed))
    click.echo(summary)
    if not no_serve:
        _serve(settings, host, port, workers=1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="web processes (production: about one per core)",
)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the web application with uvicorn."""
    _serve(_settings(), host, port, workers)


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    try:
        settings.check_safe_for_production()
    except UnsafeSettings as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"WeCom Points on http://{host}:{port}/  (Ctrl+C to stop)")
    uvicorn.run(
        "web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
    )


@main.command()
@click.option("--burst", is_flag=True, help="run queued jobs, then exit")
def worker(burst: bool) -> None:
    """Run background jobs from Redis (needs POINTS_REDIS_URL)."""
    from arq.worker import Worker

    from points.jobs.arq_queue import worker_settings

    settings = _settings()
    if not settings.REDIS_URL:
        raise click.ClickException(
            "POINTS_REDIS_URL is not set: without Redis, jobs run inside `points serve`."
        )
    Worker(**worker_settings(settings, burst=burst)).run()


@main.group()
def token() -> None:
    """API bearer tokens."""


@token.command("create")
@click.option("--name", required=True, help="what the token is for, e.g. office-screen")
@click.option("--role", required=True, type=click.Choice(["employee", "head", "hr", "admin"]))
@click.option("--user", "userid", default=None, help="the person an employee/head token acts as")
def token_create(name: str, role: str, userid: str | None) -> None:
    """Create a token; it is printed once, as the last line."""
    from points.auth.service import create_token
    from points.db import Database
    from points.errors import DomainError
    from points.org.models import Role

    settings = _settings()

    async def create() -> str:
        db = Database(settings)
        try:
            async with db.session() as session:
                value = await create_token(session, name=name, role=Role(role), userid=userid)
                await session.commit()
                return value
        finally:
            await db.dispose()

    try:
        value = _run(create)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"token {name!r} ({role}) created; it will not be shown again:")
    click.echo(value)


@main.command()
@click.option("--quick", is_flag=True, help="short runs, for a smoke check")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--only", multiple=True, help="run only this scenario (repeatable)")
def bench(quick: bool, as_json: bool, only: tuple[str, ...]) -> None:
    """Run the benchmark scenarios, each against a baseline measured in the same run."""
    from points.bench.scenarios import run_all

    try:
        results = run_all(list(only) or None, quick)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2))
        return
    for r in results:
        click.echo(
            f"{r.name}: {r.figure:,.1f} {r.unit}  vs  {r.baseline_name}: "
            f"{r.baseline:,.1f} {r.unit}  ratio {r.ratio:.3f}" + (f"  [{r.goal}]" if r.goal else "")
        )
        for key, value in r.details.items():
            click.echo(f"    {key}: {value}")


def _with_db(settings: Settings) -> Any:
    """A database and a queue for one command; jobs run in this process without Redis."""
    from points.db import Database
    from points.jobs import make_queue

    db = Database(settings)
    return db, make_queue(settings, db)


@main.command("import-events")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--source",
    default="import",
    show_default=True,
    help="where the events come from; (source, external_id) is their identity",
)
def import_events(file: Path, source: str) -> None:
    """Import normalized events from CSV or JSONL (errors reported by line)."""
    from points.events.importer import import_file

    settings = _settings()

    async def run() -> Any:
        db, queue = _with_db(settings)
        try:
            return await import_file(db, queue, file, source)
        finally:
            await queue.close()
            await db.dispose()

    report = _run(run)
    for line in report.errors[:200]:
        click.echo(line, err=True)
    click.echo(
        f"created {report.created}, duplicate {report.duplicate}, "
        f"conflict {report.conflict}, invalid {report.invalid}"
    )
    if report.invalid or report.conflict:
        sys.exit(1)


@main.command()
def reconcile() -> None:
    """Recompute balances and period scores from the entries; exit 1 on any difference."""
    from points.db import Database
    from points.ledger.reconcile import reconcile as run_reconcile

    settings = _settings()

    async def run() -> Any:
        db = Database(settings)
        try:
            async with db.session() as session:
                return await run_reconcile(session, settings.zone)
        finally:
            await db.dispose()

    report = _run(run)
    for problem in report.problems:
        click.echo(problem, err=True)
    click.echo(
        f"{report.accounts} accounts, {report.transactions} transactions, "
        f"{report.period_scores} period scores: "
        + ("clean" if report.clean else f"{len(report.problems)} differences")
    )
    if not report.clean:
        sys.exit(1)


@main.group()
def rules() -> None:
    """Scoring rules: validate, simulate, activate."""


if __name__ == "__main__":
    main()
