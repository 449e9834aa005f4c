"""A person's company and department rank: from the rank index on PostgreSQL (caught up
with what was written since it was built) and from SQL on SQLite, the same answers."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from points.boards import ranking
from points.boards.personal import person_figures
from points.org.models import Employee
from tests.support.events import SHANGHAI, event, send
from tests.support.factories import make_department, make_employee
from tests.support.services import Store


def _approvals(userid: str, count: int, tag: str) -> list[object]:
    # Today, a minute apart, early enough that they all land on today's date.
    today = datetime.now(SHANGHAI).replace(hour=0, minute=5, second=0, microsecond=0)
    return [
        event(
            f"approval:{userid}:{tag}:{n}",
            "approval.submitted",
            userid,
            today + timedelta(minutes=n),
            template="报销",
            sp_no=f"{userid}-{tag}-{n}",
            on_time=True,
        )
        for n in range(count)
    ]


async def _ranks(store: Store, userid: str) -> tuple[int | None, int | None, int]:
    async with store.db.session() as session:
        person = (await session.exec(select(Employee).where(Employee.userid == userid))).one()
        figures = await person_figures(session, store.settings, person)
    return figures.rank_company, figures.rank_department, figures.month


async def _ranks_follow_the_scores(store: Store) -> None:
    ranking.forget()
    async with store.db.session() as session:
        sales = await make_department(session, "销售部")
        finance = await make_department(session, "财务部")
        # a: 5 points, b: 10 (finance), c: 15, d: 20 (finance), e: nothing.
        for n, userid in enumerate("abcde"):
            await make_employee(session, finance if n % 2 else sales, userid=userid)
        await session.commit()
    await send(store, [e for n, u in enumerate("abcd", 1) for e in _approvals(u, n, "first")])  # type: ignore[misc]
    assert await _ranks(store, "a") == (4, 2, 5)
    assert await _ranks(store, "b") == (3, 2, 10)
    assert await _ranks(store, "d") == (1, 1, 20)
    assert await _ranks(store, "e") == (None, None, 0)
    # a earns 15 more: now level with d (a shared first place), ahead of c and b.
    await send(store, _approvals("a", 3, "second"))  # type: ignore[arg-type]
    assert await _ranks(store, "a") == (1, 1, 20)
    assert await _ranks(store, "c") == (3, 2, 15)
    assert await _ranks(store, "b") == (4, 2, 10)


async def test_ranks_follow_the_scores_postgresql(pg: Store) -> None:
    await _ranks_follow_the_scores(pg)


async def test_ranks_follow_the_scores_sqlite(lite: Store) -> None:
    await _ranks_follow_the_scores(lite)


async def test_the_periodic_rebuild_runs_beside_the_requests(
    pg: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An index past its age keeps answering (caught up with what was written since)
    # while its replacement is built in the background: no request waits for a
    # full read of the board. The rebuild waits for a gate, so the order is certain.
    await _ranks_follow_the_scores(pg)
    (cache_key, old), *_others = ranking._INDEXES.items()
    old.built -= ranking.MAX_AGE + 1
    gate = asyncio.Event()
    real_build = ranking._build

    async def gated(*args: Any) -> ranking.RankIndex:
        await gate.wait()
        return await real_build(*args)

    monkeypatch.setattr(ranking, "_build", gated)
    await send(pg, _approvals("e", 5, "late"))  # type: ignore[arg-type]
    assert await _ranks(pg, "e") == (1, 1, 20)  # caught up by the old index (a daily cap)
    assert ranking._INDEXES[cache_key] is old
    rebuild = ranking._REBUILDS[cache_key]
    gate.set()
    await rebuild
    assert cache_key not in ranking._REBUILDS
    new = ranking._INDEXES[cache_key]
    assert new is not old and new.order == old.order
    assert await _ranks(pg, "e") == (1, 1, 20) and ranking._INDEXES[cache_key] is new


async def test_an_index_caught_up_is_not_rebuilt(
    pg: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The check compares when the index's newest transaction was written; catching up
    # must move that moment along with the head, or every view after a new award
    # rebuilds the whole board inside the request.
    await _ranks_follow_the_scores(pg)
    builds: list[object] = []
    real_build = ranking._build

    async def counted(*args: object) -> ranking.RankIndex:
        builds.append(args)
        return await real_build(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(ranking, "_build", counted)
    await send(pg, _approvals("e", 1, "after"))  # type: ignore[arg-type]
    assert await _ranks(pg, "e") == (5, 3, 5)
    assert await _ranks(pg, "e") == (5, 3, 5)
    assert builds == []
