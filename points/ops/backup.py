"""``points backup FILE`` and ``points restore FILE [--force]``.

PostgreSQL: the server's own ``pg_dump`` custom format (one consistent snapshot
while the service runs), checked against the server's version first; restored
with ``pg_restore``. SQLite: the online backup API, page by page while others write.
A restore refuses a database that holds data unless forced, then migrates to the
current version and reconciles every balance and period score against the ledger.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from points.audit.service import record
from points.db import Database
from points.errors import DomainError
from points.ledger.reconcile import ReconcileReport, reconcile
from points.migrate import upgrade_async
from points.settings import Settings

PG_MAGIC = b"PGDMP"
SQLITE_MAGIC = b"SQLite format 3\x00"


class BackupError(DomainError):
    """A backup or restore that cannot go ahead; the message says what to do."""

    status_code = 409
    code = "backup"


@dataclass
class RestoreReport:
    reconcile: ReconcileReport
    source: str

    @property
    def clean(self) -> bool:
        return self.reconcile.clean


def _libpq_url(settings: Settings) -> str:
    url = make_url(settings.DATABASE_URL).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _sqlite_path(settings: Settings) -> Path:
    database = make_url(settings.DATABASE_URL).database
    if not database or database == ":memory:":
        raise BackupError("POINTS_DATABASE_URL names no SQLite file")
    return Path(database)


def _major(version_text: str) -> int:
    match = re.search(r"(\d+)(?:\.\d+)", version_text) or re.search(r"(\d+)", version_text)
    if not match:
        raise BackupError(f"cannot read a version from {version_text!r}")
    return int(match.group(1))


def pg_tool(name: str, server_major: int) -> str:
    """The server's own client tool if installed (Debian keeps one per major), else PATH's."""
    own = Path(f"/usr/lib/postgresql/{server_major}/bin/{name}")
    if own.exists():
        return str(own)
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed: install postgresql-client-{server_major}")
    return found


async def _server_major(db: Database) -> int:
    async with db.engine.connect() as conn:
        number = (await conn.execute(text("SHOW server_version_num"))).scalar_one()
    return int(number) // 10000


def _tool_major(tool: str) -> int:
    out = subprocess.run([tool, "--version"], capture_output=True, text=True, check=True)
    return _major(out.stdout)  # "pg_dump (PostgreSQL) 15.20 (Debian …)": the first number


async def _pg_checked_tool(db: Database, name: str) -> str:
    server = await _server_major(db)
    tool = pg_tool(name, server)
    have = await asyncio.to_thread(_tool_major, tool)
    # pg_dump reads servers of its own major and older; a newer server needs a newer client.
    if have < server:
        raise BackupError(
            f"{name} {have} cannot work with PostgreSQL {server}: "
            f"install postgresql-client-{server} (or put its {name} first on PATH)"
        )
    return tool


async def backup(settings: Settings, target: Path, *, actor: str = "cli") -> int:
    """Write a consistent snapshot to ``target``; returns its size in bytes. Audited."""
    target = await asyncio.to_thread(_writable, target)
    db = Database(settings)
    try:
        if settings.is_sqlite:
            source = _sqlite_path(settings)
            if not source.exists():
                raise BackupError(f"{source} does not exist: nothing to back up")
            await asyncio.to_thread(_sqlite_copy, source, target)
        else:
            tool = await _pg_checked_tool(db, "pg_dump")
            await _run(
                [
                    tool,
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={target}",
                    f"--dbname={_libpq_url(settings)}",
                ]
            )
        size = target.stat().st_size
        async with db.session() as session:
            await record(
                session,
                actor=actor,
                action="backup",
                target=target.name,
                details={
                    "bytes": size,
                    "database": "sqlite" if settings.is_sqlite else "postgresql",
                },
            )
            await session.commit()
        return size
    finally:
        await db.dispose()


def _writable(target: Path) -> Path:
    target = target.resolve()
    if target.is_dir():
        raise BackupError(f"{target} is a directory: name a file")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _magic(source: Path) -> bytes:
    """The first bytes of a backup, which say what wrote it."""
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    with source.open("rb") as handle:
        return handle.read(16)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy even while other connections write."""
    src = sqlite3.connect(str(source), timeout=30)
    dst = sqlite3.connect(str(target))
    try:
        with dst:
            src.backup(dst, pages=1024)
    finally:
        dst.close()
        src.close()


async def _run(command: list[str]) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _out, err = await process.communicate()
    if process.returncode != 0:
        message = err.decode("utf-8", "replace").strip().splitlines()
        raise BackupError(f"{Path(command[0]).name} failed: " + " ".join(message[-3:]))


async def holds_data(db: Database) -> bool:
    """Whether any table (the migrations' bookkeeping aside) has a row."""
    async with db.engine.connect() as conn:
        if db.is_sqlite:
            names = (
                await conn.execute(
                    text(
                        "SELECT name FROM sqlite_master "
                        "WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                    )
                )
            ).scalars()
        else:
            names = (
                await conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
            ).scalars()
        for name in list(names):
            if name == "alembic_version":
                continue
            row = (await conn.execute(text(f'SELECT 1 FROM "{name}" LIMIT 1'))).first()
            if row is not None:
                return True
    return False


async def restore(
    settings: Settings, source: Path, *, force: bool = False, actor: str = "cli"
) -> RestoreReport:
    """Load a backup into this database, migrate it, and reconcile the ledger."""
    magic = await asyncio.to_thread(_magic, source)
    if settings.is_sqlite and not magic.startswith(SQLITE_MAGIC):
        raise BackupError(f"{source} is not a SQLite backup (the database is SQLite)")
    if not settings.is_sqlite and not magic.startswith(PG_MAGIC):
        raise BackupError(f"{source} is not a pg_dump custom-format backup")
    if settings.is_sqlite and not _sqlite_path(settings).exists():
        _sqlite_path(settings).parent.mkdir(parents=True, exist_ok=True)
        sqlite3.connect(str(_sqlite_path(settings))).close()
    db = Database(settings)
    try:
        if not force and await holds_data(db):
            raise BackupError(
                "the database already holds data: restore into an empty database, "
                "or pass --force to replace everything in it"
            )
        if settings.is_sqlite:
            await db.dispose()  # no pooled connection may hold the file while it is replaced
            await asyncio.to_thread(_sqlite_copy, source, _sqlite_path(settings))
        else:
            tool = await _pg_checked_tool(db, "pg_restore")
            await _check_archive(tool, source)
            await _run(
                [
                    tool,
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--no-privileges",
                    "--single-transaction",
                    f"--dbname={_libpq_url(settings)}",
                    str(source),
                ]
            )
    finally:
        await db.dispose()
    await upgrade_async(settings.DATABASE_URL)
    db = Database(settings)
    try:
        await db.analyze()  # pg_restore leaves the planner no statistics
        async with db.session() as session:
            report = await reconcile(session, settings.zone)
        # Reconcile reads in a read-only snapshot; the audit row needs a transaction of its own.
        async with db.session() as session:
            await record(
                session,
                actor=actor,
                action="restore",
                target=source.name,
                details={"forced": force, "clean": report.clean, "problems": len(report.problems)},
            )
            await session.commit()
    finally:
        await db.dispose()
    return RestoreReport(reconcile=report, source=str(source))


async def _check_archive(tool: str, source: Path) -> None:
    """Refuse an archive written by a newer pg_dump than this pg_restore reads."""
    process = await asyncio.create_subprocess_exec(
        tool, "--list", str(source), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise BackupError(
            f"{source} is not a readable backup: {err.decode(errors='replace').strip()}"
        )
    dumped = re.search(rb"Dumped by pg_dump version: (\d+)", out)
    have = await asyncio.to_thread(_tool_major, tool)
    if dumped and int(dumped.group(1)) > have:
        raise BackupError(
            f"{source} was written by pg_dump {int(dumped.group(1))}; "
            f"this pg_restore is {have}: install a newer postgresql-client"
        )
