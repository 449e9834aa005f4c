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
    from points.devtools.demo.build import build_demo

    settings = _settings()
    if settings.ENV == "prod":
        # The demo seeds an admin anyone can pick on the login page.
        raise click.ClickException("points demo refuses to run with POINTS_ENV=prod")
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
    try:
        settings.check_safe_for_production()
    except UnsafeSettings as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"WeCom Points on http://{host}:{port}/  (Ctrl+C to stop)")
    run_uvicorn("web.app:create_served_app", host, port, workers)


def run_uvicorn(factory: str, host: str, port: int, workers: int) -> None:
    """uvicorn as ``points serve`` runs it (the morning rush bench serves its bare app so)."""
    import uvicorn

    uvicorn.run(
        factory,
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
    from points.jobs.arq_queue import run_worker
    from points.wiring import load_jobs

    settings = _settings()
    if not settings.REDIS_URL:
        raise click.ClickException(
            "POINTS_REDIS_URL is not set: without Redis, jobs run inside `points serve`."
        )
    load_jobs()
    run_worker(settings, burst=burst)


@main.group()
def token() -> None:
    """API bearer tokens."""


@token.command("create")
@click.option("--name", required=True, help="what the token is for, e.g. office-screen")
@click.option(
    "--role", required=True, type=click.Choice(["employee", "head", "hr", "finance", "admin"])
)
@click.option("--user", "userid", default=None, help="the person an employee/head token acts as")
@click.option("--read-only", is_flag=True, help="only reads: every write is refused (403)")
def token_create(name: str, role: str, userid: str | None, read_only: bool) -> None:
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
                value = await create_token(
                    session, name=name, role=Role(role), userid=userid, read_only=read_only
                )
                await session.commit()
                return value
        finally:
            await db.dispose()

    try:
        value = _run(create)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    kind = f"{role}, read-only" if read_only else role
    click.echo(f"token {name!r} ({kind}) created; it will not be shown again:")
    click.echo(value)


@main.command()
@click.option("--quick", is_flag=True, help="short runs, for a smoke check")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--only", multiple=True, help="run only this scenario (repeatable)")
def bench(quick: bool, as_json: bool, only: tuple[str, ...]) -> None:
    """Run the benchmark scenarios, each against a baseline measured in the same run."""
    from points.devtools.bench.scenarios import run_all

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
    from points.wiring import load_jobs

    load_jobs()
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


def _reconcile_progress(step: str, done: int, total: int) -> None:
    click.echo(f"reconcile: {step} {done}/{total}", err=True)


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
                return await run_reconcile(session, settings.zone, progress=_reconcile_progress)
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


def _mount_rules_validate() -> None:
    from rules.cli import validate_command

    rules.add_command(validate_command)


_mount_rules_validate()


def _rule_text(file: Path) -> str:
    from rules import validate_text

    text = file.read_text(encoding="utf-8")
    errors = validate_text(text)
    if errors:
        for problem in errors:
            where = f"{file}:{problem.line}" if problem.line is not None else str(file)
            message = str(problem).removeprefix(f"line {problem.line}: ")
            click.echo(f"{where}: {message}", err=True)
        sys.exit(1)
    return text


@rules.command("simulate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="first day (default: 30 days ago)")
@click.option(
    "--until", type=click.DateTime(["%Y-%m-%d"]), help="last day, inclusive (default: now)"
)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 1000))
def rules_simulate(file: Path, since: Any, until: Any, as_json: bool, top: int) -> None:
    """What-if: the rules in FILE against the active version, over stored events."""
    from points.rulesets.service import compiled, ensure_active
    from points.workbench.simulation import simulate_stored, window_for
    from rules import compile_ruleset

    settings = _settings()
    candidate = compile_ruleset(_rule_text(file), version=0)
    window = window_for(
        settings.zone,
        since=since.date() if since else None,
        until=until.date() if until else None,
    )

    async def run() -> Any:
        from points.db import Database

        db = Database(settings)
        try:
            async with db.session() as session:
                active = await ensure_active(session)
                await session.commit()
                report = await simulate_stored(
                    session, candidate, compiled(active), window, settings.zone
                )
                return report
        finally:
            await db.dispose()

    report = _run(run)
    data = report.to_dict(limit=top)
    data["window"] = {"since": window.since.isoformat(), "until": window.until.isoformat()}
    data["candidate_file"] = str(file)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    total = data["total"]
    ratio = f" ({total['ratio'] - 1:+.1%})" if total["ratio"] is not None else ""
    click.echo(
        f"{file} vs active v{report.active_version} — {window.label(settings.zone)} "
        f"({settings.TIMEZONE}): {report.events:,} events, {len(report.by_person):,} people, "
        f"{report.elapsed_seconds:.1f}s"
    )
    click.echo(
        f"points issued: active {total['active']:,} → candidate {total['candidate']:,}, "
        f"difference {total['difference']:+,}{ratio}"
    )
    for title, table in (("by rule", data["by_rule"]), ("by department", data["by_department"])):
        click.echo(f"\n{title}:")
        click.echo(f"  {'':<28}{'active':>10}{'candidate':>11}{'difference':>12}")
        for name, row in table.items():
            click.echo(
                f"  {name:<28}{row['active']:>10,}{row['candidate']:>11,}{row['difference']:>+12,}"
            )
    for title, rows in (("biggest winners", data["winners"]), ("biggest losers", data["losers"])):
        click.echo(f"\n{title}:")
        if not rows:
            click.echo("  (none)")
        for row in rows:
            click.echo(
                f"  {row['person']:<28}{row['active']:>10,}{row['candidate']:>11,}"
                f"{row['difference']:>+12,}"
            )


@rules.command("activate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", default="", help="what changed, for the version history")
@click.option(
    "--by", "author", default="cli", show_default=True, help="who is activating (audit log)"
)
@click.option(
    "--back-apply-since",
    type=click.DateTime(["%Y-%m-%d"]),
    help="also apply the new rules to events since this day (adjustment entries)",
)
@click.option(
    "--back-apply-until",
    type=click.DateTime(["%Y-%m-%d"]),
    help="last day of the back-apply window, inclusive (default: now)",
)
def rules_activate(
    file: Path, note: str, author: str, back_apply_since: Any, back_apply_until: Any
) -> None:
    """Save FILE as a new rule version and activate it (audited); optionally back-apply."""
    from points.errors import DomainError
    from points.rulesets.service import ensure_active, save_draft
    from points.workbench.service import activate
    from points.workbench.simulation import window_for

    settings = _settings()
    source = _rule_text(file)
    if back_apply_until and not back_apply_since:
        raise click.ClickException("--back-apply-until needs --back-apply-since")
    window = (
        window_for(
            settings.zone,
            since=back_apply_since.date(),
            until=back_apply_until.date() if back_apply_until else None,
        )
        if back_apply_since
        else None
    )

    async def run() -> Any:
        from points.db import Database

        db = Database(settings)
        try:
            async with db.session() as session:
                previous = await ensure_active(session)
                draft = await save_draft(
                    session, source=source, author=author, note=note or f"{file.name}"
                )
                assert draft.id is not None
                version, result = await activate(
                    session, settings, version_id=draft.id, author=author, backapply=window
                )
                await session.commit()
                return previous.id, version.id, result
        finally:
            await db.dispose()

    try:
        previous_id, version_id, result = _run(run)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"rules v{version_id} is active (was v{previous_id})")
    if result is not None:
        short = sum(line.short for line in result.lines)
        click.echo(
            f"back-applied {window.label(settings.zone) if window else ''}: "
            f"{result.transactions} adjustment(s), net {result.points:+,} points"
            + (f", {short:+,} not recoverable (already spent)" if short else "")
        )


def _add_wecom() -> None:
    from points.cli.events import events
    from points.cli.integrity import integrity
    from points.cli.ops import backup, jobs, restore
    from points.cli.wecom import wecom

    main.add_command(events)
    main.add_command(wecom)
    main.add_command(jobs)
    main.add_command(backup)
    main.add_command(restore)
    main.add_command(integrity)


_add_wecom()


if __name__ == "__main__":
    main()
