"""Reads kept a moment by the process: forgotten by any write to their tables here,
read again after their time, and never shared between databases."""

from __future__ import annotations

import pytest

from points import shared_reads
from points.levels import service as levels
from points.levels.service import Rung
from points.shared_reads import shared
from tests.support.services import Store


async def test_a_kept_read_is_forgotten_by_a_write_to_its_table(
    pg: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared_reads, "TTL", 3600.0)
    loads: list[int] = []

    async def ladder() -> list[Rung]:
        async with pg.db.session() as session:

            async def load() -> list[Rung]:
                loads.append(1)
                return await levels.ladder(session)

            return await shared(session, "test_ladder", load)

    first = await ladder()
    assert await ladder() == first and len(loads) == 1  # kept
    async with pg.db.session() as session:
        await levels.save_ladder(
            session, [Rung(0, "新手", "Newcomer"), Rung(100, "达人", "Expert")], actor="hr"
        )
        await session.commit()
    assert [r.name for r in await ladder()] == ["新手", "达人"]
    assert len(loads) == 2


async def test_a_kept_read_is_read_again_after_its_time(
    pg: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared_reads, "TTL", 0.0)
    loads: list[int] = []

    async def load() -> int:
        loads.append(1)
        return len(loads)

    async with pg.db.session() as session:
        assert await shared(session, "test_counter", load) == 1
        assert await shared(session, "test_counter", load) == 2


async def test_kept_reads_are_kept_per_database(
    pg: Store, lite: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared_reads, "TTL", 3600.0)

    async def answer(value: str) -> str:
        return value

    async with pg.db.session() as one, lite.db.session() as other:
        assert await shared(one, "test_db", lambda: answer("pg")) == "pg"
        assert await shared(other, "test_db", lambda: answer("lite")) == "lite"
        assert await shared(one, "test_db", lambda: answer("again")) == "pg"
