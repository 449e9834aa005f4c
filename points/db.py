"""Database engine and sessions (async SQLModel on SQLite or PostgreSQL).

The schema is created only by Alembic migrations (``points migrate``); nothing
here calls ``create_all``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, any_, bindparam, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.types import DateTime, TypeDecorator
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from points.settings import Settings


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_postgres(session: AsyncSession) -> bool:
    """PostgreSQL (row locks, bulk arrays) rather than the embedded SQLite."""
    return session.bind is not None and session.bind.dialect.name == "postgresql"


def insert_for(session: AsyncSession, model: type[SQLModel]) -> Any:
    """The dialect's INSERT (for ON CONFLICT), PostgreSQL or SQLite."""
    if is_postgres(session):
        return postgresql.insert(model)
    return sqlite.insert(model)


def among(column: Any, ids: Sequence[int], postgres: bool) -> Any:
    """``column IN ids`` for integer ids; on PostgreSQL one array parameter (``= ANY``).

    A batch names a thousand ids: as an array that is one bound value instead of a
    thousand placeholders to render, cast and send.
    """
    if postgres:
        return column == any_(bindparam(None, list(ids), type_=ARRAY(Integer)))
    return column.in_(list(ids))


class AwareDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware when read back.

    PostgreSQL keeps the zone (timestamptz); SQLite stores text without one, so
    values are written as UTC and read back as UTC. Naive datetimes are refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime refused: every timestamp needs a timezone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Database:
    """An engine and its session factory, made once per process (in the lifespan)."""

    def __init__(self, settings: Settings, **engine_kwargs: Any) -> None:
        self.url = settings.DATABASE_URL
        self.is_sqlite = settings.is_sqlite
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if self.is_sqlite:
            kwargs = {"connect_args": {"timeout": 30}}
        kwargs.update(engine_kwargs)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessionmaker = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )

    async def analyze(self) -> None:
        """Refresh PostgreSQL's planner statistics after a bulk load (a demo, a restore).

        Without them the planner takes a freshly loaded ledger for a small one: it read
        the rank indexes' "transactions above the newest id" with a scan of the whole
        ledger on every view. SQLite needs nothing.
        """
        if self.is_sqlite:
            return
        async with self.engine.begin() as connection:
            await connection.execute(text("ANALYZE"))

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction the caller commits; rolled back on error."""
        async with self.sessionmaker() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web process read while a job writes; foreign keys are off by
    # default in SQLite and the ledger relies on them.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
