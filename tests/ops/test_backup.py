"""The README's restore drill, on PostgreSQL and SQLite, through the real `points` command."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from points.db import Database
from points.devtools.demo.build import build_demo
from points.migrate import upgrade
from tests.support.services import PG_ADMIN_DSN, Store, make_settings

POINTS = str(Path(sys.executable).with_name("points"))

SNAPSHOT = {
    "balances": "SELECT employee_id, kind, balance FROM account ORDER BY kind, employee_id",
    "period_scores": (
        "SELECT employee_id, period, period_key, points FROM period_score "
        "ORDER BY employee_id, period, period_key"
    ),
    "department_scores": (
        "SELECT department_id, period, period_key, points FROM department_score "
        "ORDER BY department_id, period, period_key"
    ),
    "transactions": "SELECT count(*), sum(points) FROM ledger_transaction",
}


async def snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    db = Database(make_settings(url))
    try:
        async with db.engine.connect() as conn:
            return {
                name: [tuple(row) for row in (await conn.execute(text(sql))).all()]
                for name, sql in SNAPSHOT.items()
            }
    finally:
        await db.dispose()


def points(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POINTS_DATABASE_URL": url, "POINTS_SECRET_KEY": "x" * 40}
    return subprocess.run(
        [POINTS, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _admin(sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(params=["pg", "lite"])
def drill(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """A migrated source database, an empty target (no schema at all), a backup path."""
    if request.param == "lite":
        source = f"sqlite+aiosqlite:///{tmp_path / 'points.db'}"
        upgrade(source)
        yield (
            source,
            f"sqlite+aiosqlite:///{tmp_path / 'restored' / 'points.db'}",
            (tmp_path / "backups" / "points-2026-11-27.db"),
        )
        return
    request.getfixturevalue("pg_url")  # PostgreSQL reachable (or skipped/failed as in CI)
    names = [f"points_drill_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    for name in names:
        _admin(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    source, target = (f"{base}/{name}" for name in names)
    upgrade(source)
    try:
        yield source, target, tmp_path / "backups" / "points-2026-11-27.dump"
    finally:
        for name in names:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_backup_then_restore_reproduces_every_balance_and_period_score(
    drill: tuple[str, str, Path],
) -> None:
    url, target, backup_file = drill
    await build_demo(make_settings(url), employees=30, days=20, seed=11)
    before = await snapshot(url)
    assert before["transactions"][0][0] > 100

    made = points(url, "backup", str(backup_file))
    assert made.returncode == 0, made.stderr
    restored = points(target, "restore", str(backup_file))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "clean" in restored.stdout
    assert await snapshot(target) == before

    # A database that holds data is refused unless forced; forced, it is the backup again.
    again = points(target, "restore", str(backup_file))
    assert again.returncode != 0
    assert "--force" in again.stderr
    forced = points(target, "restore", "--force", str(backup_file))
    assert forced.returncode == 0, forced.stderr
    assert await snapshot(target) == before

    # Both are audited: the backup in the source, the (last) restore in the target.
    for where, action, least in ((url, "backup", 1), (target, "restore", 1)):
        db = Database(make_settings(where))
        try:
            async with db.engine.connect() as conn:
                count = (
                    await conn.execute(
                        text("SELECT count(*) FROM audit_entry WHERE action = :a"), {"a": action}
                    )
                ).scalar_one()
        finally:
            await db.dispose()
        assert count >= least, (where, action)


@pytest.mark.books_tampered
async def test_restore_exits_non_zero_when_the_backup_does_not_reconcile(
    lite: Store, tmp_path: Path
) -> None:
    url = lite.settings.DATABASE_URL
    await build_demo(lite.settings, employees=30, days=10, seed=3)
    async with lite.db.engine.begin() as conn:
        # A balance that no longer matches its entries (a cache gone wrong).
        await conn.execute(
            text(
                "UPDATE account SET balance = balance + 7 WHERE id = "
                "(SELECT min(id) FROM account WHERE kind = 'available' AND employee_id IS NOT NULL)"
            )
        )
    backup_file = tmp_path / "broken.db"
    assert points(url, "backup", str(backup_file)).returncode == 0
    target = f"sqlite+aiosqlite:///{tmp_path / 'target.db'}"
    result = points(target, "restore", str(backup_file))
    assert result.returncode == 1
    assert "difference" in result.stdout


def test_restore_refuses_a_file_of_the_other_kind(tmp_path: Path) -> None:
    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("hello", encoding="utf-8")
    target = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    upgrade(target)
    result = points(target, "restore", str(not_a_backup))
    assert result.returncode == 1
    assert "not a SQLite backup" in result.stderr
