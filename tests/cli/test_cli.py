from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner
from sqlmodel import select

from points.auth.models import ApiToken
from points.auth.service import hash_token
from points.cli import main
from points.settings import get_settings
from tests.support.factories import make_department, make_employee
from tests.support.services import Store

CONTRACT = (
    "migrate",
    "demo",
    "serve",
    "worker",
    "import-events",
    "rules",
    "token",
    "reconcile",
    "bench",
)


def test_help_lists_the_contract_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in CONTRACT:
        assert f"  {command}" in result.output


async def test_token_create_prints_the_token_last_and_stores_only_its_hash(
    lite: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with lite.db.session() as session:
        department = await make_department(session)
        await make_employee(session, department, userid="lisi")
        await session.commit()
    monkeypatch.setenv("POINTS_DATABASE_URL", lite.settings.DATABASE_URL)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        # The CLI runs its own event loop: invoke it off this test's loop.
        result = await asyncio.to_thread(
            runner.invoke, main, ["token", "create", "--name", "screen", "--role", "hr"]
        )
        assert result.exit_code == 0, result.output
        token = result.output.strip().splitlines()[-1]
        refused = await asyncio.to_thread(
            runner.invoke, main, ["token", "create", "--name", "me", "--role", "employee"]
        )
        assert refused.exit_code == 1
        assert "--user" in refused.output
    finally:
        get_settings.cache_clear()
    async with lite.db.session() as session:
        rows = (await session.exec(select(ApiToken))).all()
    assert [r.token_hash for r in rows] == [hash_token(token)]
    assert token not in repr(rows)


def test_bad_environment_is_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POINTS_TIMEZONE", "Nowhere/Land")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["migrate"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "unknown time zone" in result.output
