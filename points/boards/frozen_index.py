"""An in-process index of a frozen company board, with its late changes kept incrementally.

A closed week's board of 90,000 people used to be read whole on every view, and its
late changes (people who changed since the close, newcomers) found by walking the
whole board against the period scores: 0.7–0.8 s on a year of a big company. Like
the rank index of open boards (:mod:`points.boards.ranking`), each process keeps
per frozen board, built once in a REPEATABLE READ snapshot:

- the published rows in board order, without the people now off the board;
- everyone's current points for the period, and from them the set of published
  people whose points changed and the newcomers with points;

and brings the current points up to date on every view from the ledger
transactions written since (the same one-round-trip check the rank index makes).
A view then reads the top N, the viewer ± 2 and the late changes from memory.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from points.boards.models import OFF_BOARD_SQL, FrozenBoard
from points.boards.ranking import (
    _EARNING,
    _HEAD,
    _OFF_BOARD,
    _OFF_BOARD_IDS,
    _RECENT_IDS,
    MAX_AGE,
    MAX_BOARDS,
    NEIGHBOURS,
    OVERLAP,
    Ranked,
    advance,
    check_and_tail,
)
from points.calendar import Period, key_at

LATE_SHOWN = 20

_PUBLISHED = text(
    "SELECT employee_id, points, rank FROM frozen_rank WHERE board_id = :board "
    f"AND employee_id NOT IN (SELECT id FROM employee WHERE {OFF_BOARD_SQL}) "
    "ORDER BY rank, employee_id"
)
_PUBLISHED_OFF = text(
    "SELECT employee_id, points FROM frozen_rank WHERE board_id = :board "
    f"AND employee_id IN (SELECT id FROM employee WHERE {OFF_BOARD_SQL})"
)
_CURRENT = text(
    "SELECT employee_id, points FROM period_score WHERE period = :period AND period_key = :key"
)


@dataclass
class FrozenIndex:
    board_id: int
    period: Period
    key: str
    off_board: tuple[int, int]
    off_ids: frozenset[int]
    head: int
    head_written: datetime | None
    built: float
    applied: set[int] = field(default_factory=set)
    visible: Ranked = field(default_factory=list)  # published, in board order
    position: dict[int, int] = field(default_factory=dict)
    published: dict[int, int] = field(default_factory=dict)  # everyone published, off or not
    current: dict[int, int] = field(default_factory=dict)
    changed: set[int] = field(default_factory=set)
    newcomers: set[int] = field(default_factory=set)

    def set_current(self, employee_id: int, points: int) -> None:
        self.current[employee_id] = points
        if employee_id in self.published:
            if points != self.published[employee_id]:
                self.changed.add(employee_id)
            else:
                self.changed.discard(employee_id)
        elif points > 0 and employee_id not in self.off_ids:
            self.newcomers.add(employee_id)
        else:
            self.newcomers.discard(employee_id)

    def ranked(self, limit: int, around_id: int | None) -> tuple[Ranked, Ranked, int]:
        top = self.visible[:limit]
        around: Ranked = []
        index = self.position.get(around_id) if around_id is not None else None
        if index is not None and index >= limit:
            around = self.visible[max(0, index - NEIGHBOURS) : index + NEIGHBOURS + 1]
        return top, around, len(self.visible)

    def adjustments(self, shown: set[int]) -> tuple[dict[int, int], list[tuple[int, int]], int]:
        """As :func:`points.boards.frozen.frozen_adjustments` answers, from memory."""
        changes = {
            e: self.current[e] - self.published.get(e, 0) for e in shown if e in self.current
        }
        late = sorted(((e, self.current[e]) for e in self.newcomers), key=lambda r: (-r[1], r[0]))
        shown_late = late[:LATE_SHOWN]
        return changes, shown_late, len(self.changed) + len(shown_late)


# By database, board and when it was frozen: tests empty a database and reuse ids.
_INDEXES: dict[tuple[str, int, datetime], FrozenIndex] = {}


async def _build(engine: AsyncEngine, board: FrozenBoard) -> FrozenIndex:
    assert board.id is not None
    async with engine.connect() as plain:
        conn = await plain.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            newest = (await conn.execute(_HEAD)).first()
            head, written = (int(newest[0]), newest[1]) if newest else (0, None)
            count, total = (await conn.execute(_OFF_BOARD)).one()
            off_ids = frozenset(int(r[0]) for r in (await conn.execute(_OFF_BOARD_IDS)).all())
            recent = {int(r[0]) for r in (await conn.execute(_RECENT_IDS, {"low": head - OVERLAP}))}
            shown = (await conn.execute(_PUBLISHED, {"board": board.id})).all()
            hidden = (await conn.execute(_PUBLISHED_OFF, {"board": board.id})).all()
            current = (
                await conn.execute(_CURRENT, {"period": board.period, "key": board.period_key})
            ).all()
    index = FrozenIndex(
        board.id,
        Period(board.period),
        board.period_key,
        (int(count), int(total)),
        off_ids,
        head,
        written,
        time.monotonic(),
        recent,
    )
    index.visible = [(int(e), int(p), int(r)) for e, p, r in shown]
    index.position = {e: i for i, (e, _p, _r) in enumerate(index.visible)}
    index.published = {e: p for e, p, _r in index.visible}
    index.published.update({int(e): int(p) for e, p in hidden})
    for employee_id, points in current:
        index.set_current(int(employee_id), int(points))
    return index


def _catch_up(index: FrozenIndex, tail: list[Any], zone: tzinfo) -> None:
    for txn_id, employee_id, points, kind, effective_at, created_at in tail:
        if txn_id is None or txn_id in index.applied:
            continue
        index.applied.add(txn_id)
        advance(index, txn_id, created_at)
        if kind not in _EARNING or not points:
            continue
        if key_at(index.period, effective_at, zone) == index.key:
            index.set_current(employee_id, index.current.get(employee_id, 0) + points)
    low = index.head - OVERLAP
    index.applied = {i for i in index.applied if i > low}


async def frozen_index(
    session: AsyncSession, board: FrozenBoard, zone: tzinfo
) -> FrozenIndex | None:
    """This process's index of ``board``, caught up in this request; None off PostgreSQL."""
    engine = session.bind
    if not isinstance(engine, AsyncEngine) or engine.dialect.name != "postgresql":
        return None
    assert board.id is not None
    cache_key = (str(engine.url), board.id, board.frozen_at)
    index = _INDEXES.get(cache_key)
    off_board, written, tail = await check_and_tail(
        session, index.head if index else None, index.applied if index else None
    )
    fresh = (
        index is not None
        and time.monotonic() - index.built < MAX_AGE
        and index.off_board == off_board
        and written == index.head_written
        and (index.period.value, index.key) == (board.period, board.period_key)
    )
    if index is None or not fresh:
        index = await _build(engine, board)
        if len(_INDEXES) >= MAX_BOARDS:
            del _INDEXES[min(_INDEXES, key=lambda k: _INDEXES[k].built)]
        _INDEXES[cache_key] = index
        off_board, written, tail = await check_and_tail(session, index.head, index.applied)
    _catch_up(index, tail, zone)
    return index


def forget() -> None:
    _INDEXES.clear()
