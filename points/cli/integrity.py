"""``points integrity scan``: the integrity review's patterns, computed now."""

from __future__ import annotations

import asyncio
import getpass
from typing import Any

import click

from points.settings import get_settings


@click.group()
def integrity() -> None:
    """Integrity review (积分异常复核): patterns worth a look, for HR."""


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@integrity.command("scan")
def integrity_scan() -> None:
    """Compute the flags now (the schedule runs this daily); audited."""
    from points.audit.service import record
    from points.db import Database
    from points.integrity.service import scan

    try:
        settings = get_settings()
    except ValueError as exc:
        raise click.ClickException(f"bad setting: {exc}") from None

    async def run() -> Any:
        db = Database(settings)
        try:
            async with db.session() as session:
                summary = await scan(session, settings)
                await record(
                    session, actor=_who(), action="integrity.scan", details=summary.as_dict()
                )
                await session.commit()
                return summary
        finally:
            await db.dispose()

    summary = asyncio.run(run())
    click.echo(
        f"{summary.found} pattern(s) found: {summary.opened} new, {summary.updated} updated, "
        f"{summary.reopened} reopened, {summary.still_reviewed} still reviewed"
    )
