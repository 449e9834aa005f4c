"""``points wecom …``: run the pull connectors now, or simulate callbacks."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click

from points.settings import Settings, get_settings


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise click.ClickException(f"bad setting: {exc}") from None


@click.group("wecom")
def wecom() -> None:
    """WeCom: pull connectors, a callback simulator and the workbench tile."""


@wecom.command("pull")
@click.option(
    "--connector",
    "names",
    multiple=True,
    type=click.Choice(["approvals", "checkins", "contacts", "behavior", "meetings"]),
    help="run only this connector (repeatable); default: all, contacts first",
)
def pull(names: tuple[str, ...]) -> None:
    """Run pull connectors now (the embedded default's schedule: cron this command)."""
    from points.db import Database
    from points.jobs import InlineQueue
    from points.wecom.config import api_ready
    from points.wecom.jobs import CONNECTOR_JOBS, run_connector_job
    from points.wiring import load_jobs

    load_jobs()
    settings = _settings()
    if not api_ready(settings):
        raise click.ClickException(
            "WeCom is not configured: set POINTS_WECOM_ENABLED=true, POINTS_WECOM_CORP_ID "
            "and POINTS_WECOM_SECRET."
        )
    chosen = list(names) or ["contacts", "approvals", "checkins", "behavior", "meetings"]

    async def run() -> list[tuple[str, Any]]:
        db = Database(settings)
        queue = InlineQueue(settings, db)  # scoring runs here, right after each commit
        outcomes: list[tuple[str, Any]] = []
        try:
            for name in chosen:
                try:
                    outcomes.append((name, await run_connector_job(queue, CONNECTOR_JOBS[name])))
                except Exception as exc:  # recorded on the admin page; go on with the next
                    outcomes.append((name, f"failed: {exc}"))
        finally:
            await db.dispose()
        return outcomes

    failed = False
    for name, outcome in asyncio.run(run()):
        failed |= isinstance(outcome, str)
        click.echo(f"{name}: {json.dumps(outcome, ensure_ascii=False, default=str)}")
    if failed:
        raise SystemExit(1)


@wecom.command("simulate")
@click.option(
    "--url",
    default=None,
    help="the instance's callback URL (default: POINTS_BASE_URL + /wecom/callback)",
)
@click.option("--count", default=8, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--user", "users", multiple=True, help="userid to act as (repeatable)")
def simulate(url: str | None, count: int, users: tuple[str, ...]) -> None:
    """Send encrypted sample callbacks to a running instance and watch points arrive."""
    from points.wecom.config import callback_ready, callback_url
    from points.wecom.simulate import people_to_use
    from points.wecom.simulate import simulate as send

    settings = _settings()
    if not callback_ready(settings):
        raise click.ClickException(
            "set POINTS_WECOM_ENABLED=true, POINTS_WECOM_CORP_ID, POINTS_WECOM_TOKEN and "
            "POINTS_WECOM_AES_KEY to the same values as the running instance"
        )
    target = url or callback_url(settings)

    async def run() -> Any:
        people = list(users) or await people_to_use(settings)
        return await send(settings, target, count, people)

    import httpx

    try:
        report = asyncio.run(run())
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach {target}: {exc}") from None
    for delivery in report.deliveries:
        mark = "✓" if delivery.status == 200 else "✗"
        click.echo(f"{mark} {delivery.status} {delivery.kind:<16} {delivery.userid}")
    click.echo(f"{report.accepted}/{len(report.deliveries)} callbacks accepted by {target}")
    if report.accepted != len(report.deliveries):
        raise SystemExit(1)


@wecom.command("workbench-template")
def workbench_template() -> None:
    """Set the app's workbench tile template (keydata) now."""
    from points.db import Database
    from points.jobs import InlineQueue
    from points.wecom.client import WeComError
    from points.wecom.jobs import run_connector_job
    from points.wecom.workbench_card import TEMPLATE_JOB, enabled
    from points.wiring import load_jobs

    load_jobs()
    settings = _settings()
    if not enabled(settings):
        raise click.ClickException(
            "the workbench card is off: set POINTS_WECOM_ENABLED=true, POINTS_WECOM_CORP_ID, "
            "POINTS_WECOM_SECRET and POINTS_WECOM_AGENT_ID (and leave POINTS_WECOM_WORKBENCH on)"
        )

    async def run() -> Any:
        db = Database(settings)
        try:
            return await run_connector_job(InlineQueue(settings, db), TEMPLATE_JOB)
        finally:
            await db.dispose()

    try:
        outcome = asyncio.run(run())
    except WeComError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(outcome, ensure_ascii=False))
