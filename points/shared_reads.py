"""Reads that are the same for everyone, kept for a moment by each process.

At nine o'clock every person's home asks for the level ladder, the active rules, the
work calendar and the department labels, every login page for the same few people to
offer, and every catalogue for the same rewards; most change a few times a year. Each
is kept for ``TTL`` seconds, by database, as plain values or copies of rows that belong
to no session (a row of a session would expire under this one at another request's
rollback).

A write in this process to a table a read depends on forgets everything at once: the
statement itself and the commit that follows it each bump a generation, so the writer
and anyone after it read afresh. Other processes see the change within ``TTL``.
Nothing a person's own figures come from is kept here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlmodel.ext.asyncio.session import AsyncSession

TTL = 2.0
# The tables the kept reads come from.
TABLES = frozenset(
    {
        "level",
        "rule_version",
        "work_calendar_day",
        "department",
        "employee",
        "role_assignment",
        "reward",
        "voucher_code",
    }
)
_WRITE = re.compile(r"\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)

T = TypeVar("T")

_generation = 0
_kept: dict[tuple[str, str], tuple[int, float, Any]] = {}


def _bump() -> None:
    global _generation
    _generation += 1


def _statement(conn: Connection, _cursor: Any, statement: str, *_args: Any, **_kw: Any) -> None:
    match = _WRITE.match(statement)
    if statement.lstrip()[:8].upper().startswith("TRUNCATE") or (
        match is not None and match.group(1).lower() in TABLES
    ):
        _bump()
        conn.info["points.shared_write"] = True


def _ended(conn: Connection) -> None:
    if conn.info.pop("points.shared_write", False):
        _bump()


event.listen(Engine, "before_cursor_execute", _statement)
event.listen(Engine, "commit", _ended)
event.listen(Engine, "rollback", _ended)


async def shared(session: AsyncSession, name: str, load: Callable[[], Awaitable[T]]) -> T:
    """``load()``'s answer for this database, as read within the last ``TTL`` seconds."""
    bind = session.bind
    key = (str(bind.engine.url) if bind is not None else "", name)
    now = time.monotonic()
    kept = _kept.get(key)
    if kept is not None and kept[0] == _generation and now < kept[1]:
        value: T = kept[2]
        return value
    generation = _generation
    value = await load()
    _kept[key] = (generation, now + TTL, value)
    return value


def forget() -> None:
    """Drop everything kept (tests that rewrite a database under the same URL)."""
    _kept.clear()
    _bump()
