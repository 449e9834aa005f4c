"""The real services the tests run against, and the settings they use.

Services missing? Locally the tests that need them are skipped with a reason; under
``CI=true`` they fail, so a green CI always means they ran.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from points.db import Database
from points.settings import Settings

PG_ADMIN_DSN = os.environ.get("POINTS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_BASE = os.environ.get("POINTS_TEST_REDIS", "redis://127.0.0.1:6379")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def service_missing(what: str, error: BaseException) -> None:
    message = f"{what} is not reachable ({error!r}); see the README (Run the tests) to start it"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {"DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


async def truncate_all(db: Database) -> None:
    """Empty every table of a PostgreSQL database (the schema stays)."""
    async with db.engine.begin() as conn:
        tables = (
            (
                await conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename <> 'alembic_version'"
                    )
                )
            )
            .scalars()
            .all()
        )
        if tables:
            names = ", ".join(f'"{t}"' for t in tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@dataclass
class Store:
    settings: Settings
    db: Database
