"""How people are ranked on a board, and an in-process rank index for open company boards.

Ranks are competition ranks: equal points share a rank (1, 2, 2, 4). A board
shows the top N, and the viewer with two neighbours either side.

The rank index (PostgreSQL) serves company boards of open periods.

Counting "how many scored more than me" over a 100,000-person board costs a scan
of half the board on every request (10–25 ms in PostgreSQL). Instead each process
keeps, per board, the sorted (points, person) list built from ``period_score``,
and brings it up to date on every request from the ledger transactions written
since (a short primary-key range read, never a GROUP BY over the entries).

Consistency: the index is built in one REPEATABLE READ snapshot (scores, the
newest transaction id, and the ids already reflected near it), so a transaction
is counted either by the build or by the catch-up, never both. Transactions that
commit out of id order are caught by re-reading the last ``OVERLAP`` ids and
skipping the ones already applied; a full rebuild every ``MAX_AGE`` seconds, and
whenever someone joins or leaves the off-board set, heals anything else.

The periodic rebuild reads the whole board (half a second at 100,000 people), so it
runs beside the requests: the old index keeps answering, caught up as always, until
the new one replaces it. Only an index that cannot be caught up (none yet, the
off-board set changed, the ledger was rewritten) is rebuilt inside a request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import partial
from typing import Any, Protocol

from sqlalchemy import Integer, bindparam, event, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from points.boards.models import OFF_BOARD_SQL
from points.calendar import keys_at
from points.ledger.models import EARNING_KINDS, Period

OVERLAP = 256
MAX_AGE = 300.0
MAX_BOARDS = 32
NEIGHBOURS = 2

Ranked = list[tuple[int, int, int]]  # (employee id, points, rank)


def competition_ranks(values: Sequence[float], first_rank: int = 1) -> list[int]:
    """Ranks for values sorted high to low: equal values share a rank (1, 2, 2, 4)."""
    ranks: list[int] = []
    for index, value in enumerate(values):
        if index and value == values[index - 1]:
            ranks.append(ranks[-1])
        else:
            ranks.append(first_rank + index)
    return ranks


def top_and_around(rows: Ranked, limit: int, around_id: int | None) -> tuple[Ranked, Ranked]:
    """The first ``limit`` ranked rows, and ``around_id`` with its neighbours when not
    among them (nobody when they are not on the board)."""
    top = rows[:limit]
    around: Ranked = []
    if around_id is not None and around_id not in {e for e, _p, _r in top}:
        index = next((i for i, row in enumerate(rows) if row[0] == around_id), None)
        if index is not None:
            around = rows[max(0, index - NEIGHBOURS) : index + NEIGHBOURS + 1]
    return top, around


def rank_in_memory(
    scores: Iterable[tuple[int, int]], limit: int, around_id: int | None
) -> tuple[Ranked, Ranked, int]:
    """Rank (employee id, points) pairs already in hand: top, around and how many ranked."""
    ordered = sorted(((e, p) for e, p in scores if p > 0), key=lambda r: (-r[1], r[0]))
    ranks = competition_ranks([p for _e, p in ordered])
    rows = [(e, p, r) for (e, p), r in zip(ordered, ranks, strict=True)]
    top, around = top_and_around(rows, limit, around_id)
    return top, around, len(rows)


_OFF_BOARD = text(f"SELECT count(*), coalesce(sum(id), 0) FROM employee WHERE {OFF_BOARD_SQL}")
_OFF_BOARD_IDS = text(f"SELECT id FROM employee WHERE {OFF_BOARD_SQL}")
_HEAD = text("SELECT id, created_at FROM ledger_transaction ORDER BY id DESC LIMIT 1")
# One round trip per request: is the index still valid (who is off the board, and is
# its newest transaction still there), and what was written since.
_CHECK_AND_TAIL = text(
    "SELECT f.n, f.s, f.w, t.id, t.employee_id, t.points, t.kind, t.effective_at, t.created_at"
    " FROM ("
    f"  SELECT count(*) AS n, coalesce(sum(id), 0) AS s,"
    "   (SELECT created_at FROM ledger_transaction WHERE id = :head) AS w"
    f"  FROM employee WHERE {OFF_BOARD_SQL}"
    ") AS f LEFT JOIN LATERAL ("
    "  SELECT id, employee_id, points, kind, effective_at, created_at FROM ledger_transaction"
    "  WHERE id > :after OR id = ANY(:gaps) ORDER BY id"
    ") AS t ON true"
).bindparams(bindparam("gaps", type_=ARRAY(Integer)))
_RECENT_IDS = text("SELECT id FROM ledger_transaction WHERE id > :low")
_SCORES = text(
    "SELECT employee_id, points FROM period_score WHERE period = :period AND period_key = :key "
    f"AND employee_id NOT IN (SELECT id FROM employee WHERE {OFF_BOARD_SQL})"
)
_EARNING = frozenset(kind.value for kind in EARNING_KINDS)


@dataclass
class RankIndex:
    """One board: everyone's points, and the positive ones sorted best first."""

    period: Period
    key: str
    off_board: tuple[int, int]
    off_ids: frozenset[int]
    head: int
    # When the newest transaction was written: a database emptied and refilled
    # (tests) reuses ids, and this tells the two apart.
    head_written: datetime | None
    built: float
    applied: set[int] = field(default_factory=set)
    points: dict[int, int] = field(default_factory=dict)
    # (-points, employee id): ascending order is the board's order.
    order: list[tuple[int, int]] = field(default_factory=list)

    def set_points(self, employee_id: int, points: int) -> None:
        old = self.points.get(employee_id, 0)
        if old > 0:
            index = bisect_left(self.order, (-old, employee_id))
            del self.order[index]
        self.points[employee_id] = points
        if points > 0:
            insort(self.order, (-points, employee_id))

    def rank_of(self, points: int) -> int:
        """1 + how many scored more (equal points share a rank)."""
        return bisect_left(self.order, (-points, -1)) + 1

    def answer(self, limit: int, around_id: int | None) -> tuple[Ranked, Ranked, int]:
        top = [(e, -p, self.rank_of(-p)) for p, e in self.order[:limit]]
        around: Ranked = []
        mine = self.points.get(around_id, 0) if around_id is not None else 0
        if around_id is not None and mine > 0 and around_id not in {e for e, _p, _r in top}:
            index = bisect_left(self.order, (-mine, around_id))
            window = self.order[max(0, index - NEIGHBOURS) : index + NEIGHBOURS + 1]
            around = [(e, -p, self.rank_of(-p)) for p, e in window]
        return top, around, len(self.order)

    def counts(self, period_key_of: dict[Period, str]) -> bool:
        return self.period == Period.all or period_key_of.get(self.period) == self.key


_INDEXES: dict[tuple[str, str, str], RankIndex] = {}
# Periodic rebuilds under way, by board (one at a time each; the reference keeps the
# task alive until it is done).
_REBUILDS: dict[tuple[str, str, str], asyncio.Task[None]] = {}
_log = logging.getLogger(__name__)


async def _build(engine: AsyncEngine, period: Period, key: str) -> RankIndex:
    async with engine.connect() as plain:
        conn = await plain.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            newest = (await conn.execute(_HEAD)).first()
            head, written = (int(newest[0]), newest[1]) if newest else (0, None)
            count, total = (await conn.execute(_OFF_BOARD)).one()
            off_ids = frozenset(int(r[0]) for r in (await conn.execute(_OFF_BOARD_IDS)).all())
            recent = {int(r[0]) for r in (await conn.execute(_RECENT_IDS, {"low": head - OVERLAP}))}
            scores = (await conn.execute(_SCORES, {"period": period.value, "key": key})).all()
    index = RankIndex(
        period, key, (int(count), int(total)), off_ids, head, written, time.monotonic(), recent
    )
    index.points = {int(e): int(p) for e, p in scores}
    index.order = sorted((-int(p), int(e)) for e, p in scores if p > 0)
    return index


def _catch_up(index: RankIndex, tail: Sequence[Sequence[Any]], zone: tzinfo) -> None:
    """Apply the transactions written since the index was built or last caught up.

    Synchronous on purpose: two requests of this process never apply one row twice.
    """
    for txn_id, employee_id, points, kind, effective_at, created_at in tail:
        if txn_id is None or txn_id in index.applied:
            continue
        index.applied.add(txn_id)
        advance(index, txn_id, created_at)
        if kind not in _EARNING or not points or employee_id in index.off_ids:
            continue
        if index.counts(dict(keys_at(effective_at, zone))):
            index.set_points(employee_id, index.points.get(employee_id, 0) + points)
    low = index.head - OVERLAP
    index.applied = {i for i in index.applied if i > low}


class _Headed(Protocol):
    head: int
    head_written: datetime | None


def advance(index: _Headed, txn_id: int, created_at: datetime | None) -> None:
    """Move the index's head to ``txn_id`` if it is newer, with when it was written: the
    next check compares that moment, so an index caught up is not taken for a stale one."""
    if txn_id > index.head:
        index.head, index.head_written = txn_id, created_at


async def _check(
    session: AsyncSession, index: RankIndex | None
) -> tuple[tuple[int, int], datetime | None, list[Sequence[Any]]]:
    if index is None:
        return await check_and_tail(session, None)
    return await check_and_tail(session, index.head, index.applied)


async def check_and_tail(
    session: AsyncSession, index_head: int | None, applied: Set[int] | None = None
) -> tuple[tuple[int, int], datetime | None, list[Sequence[Any]]]:
    """Who is off the board, when the index's newest transaction was written, and the
    transactions since it (none without an index yet): one round trip.

    "Since it" is every id above the head, and the ids of the last ``OVERLAP`` below it
    that the index has not applied (``applied``: gaps, or transactions that committed
    out of id order). Only those are read again: every page view asks, so re-reading
    the whole overlap (256 rows, already applied) was most of what a check cost.
    """
    if index_head is None:
        head, after, gaps = -1, 2**31 - 1, []  # no tail yet
    else:
        seen = applied or set()
        head, after = index_head, index_head
        gaps = [i for i in range(max(0, index_head - OVERLAP) + 1, index_head + 1) if i not in seen]
    # A board view checks the company index and the closed board's index, usually at
    # the same head: one read answers both. Forgotten when the session writes.
    checks = session.info.setdefault(_CHECKS, {})
    memo_key = (head, after, tuple(gaps))
    found = checks.get(memo_key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    # The request's own connection: what it reads next is at least this new.
    connection = await session.connection()
    rows = (
        await connection.execute(_CHECK_AND_TAIL, {"head": head, "after": after, "gaps": gaps})
    ).all()
    count, total, written = rows[0][0], rows[0][1], rows[0][2]
    answer: tuple[tuple[int, int], datetime | None, list[Sequence[Any]]] = (
        (int(count), int(total)),
        written,
        [row[3:] for row in rows],
    )
    checks[memo_key] = answer
    return answer


_CHECKS = "rank_index_checks"


@event.listens_for(Session, "after_flush")
def _forget_checks(session: Session, _context: Any) -> None:
    """A session that wrote something checks again: its own writes may be in the tail."""
    session.info.pop(_CHECKS, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_checks_later(session: Session, _transaction: Any) -> None:
    """The next transaction sees what others committed since: it checks again."""
    session.info.pop(_CHECKS, None)


async def company_ranking(
    session: AsyncSession,
    period: Period,
    key: str,
    zone: tzinfo,
    limit: int,
    around_id: int | None,
) -> tuple[Ranked, Ranked, int] | None:
    """Top ``limit`` and the neighbourhood of ``around_id`` on the company board, or
    None where the index does not apply (SQLite: the embedded default is small)."""
    index = await _current(session, period, key, zone)
    return None if index is None else index.answer(limit, around_id)


async def company_rank(
    session: AsyncSession, period: Period, key: str, zone: tzinfo, points: int
) -> int | None:
    """The company rank a score of ``points`` has on the board (1 + how many scored
    more): a bisection in the index, whatever the rank; None where there is no index."""
    index = await _current(session, period, key, zone)
    return None if index is None else index.rank_of(points)


async def _current(
    session: AsyncSession, period: Period, key: str, zone: tzinfo
) -> RankIndex | None:
    """This process's index of the board, checked and caught up in this request."""
    engine = session.bind
    if not isinstance(engine, AsyncEngine) or engine.dialect.name != "postgresql":
        return None
    cache_key = (str(engine.url), period.value, key)
    index = _INDEXES.get(cache_key)
    off_board, written, tail = await _check(session, index)
    if index is None or index.off_board != off_board or written != index.head_written:
        index = await _build(engine, period, key)
        _keep(cache_key, index)
        off_board, written, tail = await _check(session, index)
    elif time.monotonic() - index.built >= MAX_AGE and cache_key not in _REBUILDS:
        task = asyncio.create_task(_rebuild(engine, cache_key, index))
        _REBUILDS[cache_key] = task
        task.add_done_callback(partial(_finished, cache_key))
    _catch_up(index, tail, zone)
    return index


def _finished(cache_key: tuple[str, str, str], task: asyncio.Task[None]) -> None:
    if _REBUILDS.get(cache_key) is task:
        del _REBUILDS[cache_key]


def _keep(cache_key: tuple[str, str, str], index: RankIndex) -> None:
    if cache_key not in _INDEXES and len(_INDEXES) >= MAX_BOARDS:
        oldest = min(_INDEXES, key=lambda k: _INDEXES[k].built)
        del _INDEXES[oldest]
    _INDEXES[cache_key] = index


async def _rebuild(engine: AsyncEngine, cache_key: tuple[str, str, str], old: RankIndex) -> None:
    """The periodic full rebuild, beside the requests; it replaces ``old`` unless a
    request has replaced it meanwhile."""
    try:
        index = await _build(engine, old.period, old.key)
    except Exception:
        # The old index goes on being caught up; try again after another MAX_AGE.
        _log.exception("rebuilding the %s %s rank index failed", old.period.value, old.key)
        old.built = time.monotonic()
        return
    if _INDEXES.get(cache_key) is old:
        _keep(cache_key, index)


def forget() -> None:
    """Drop every index (tests that rewrite history under the same ids use it)."""
    for task in list(_REBUILDS.values()):
        task.cancel()
    _REBUILDS.clear()
    _INDEXES.clear()
