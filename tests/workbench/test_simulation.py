"""Simulation over stored events: streamed in chunks, same answer whatever the chunk size."""

from __future__ import annotations

import pytest

from points.devtools.bench.simulation import run
from points.rulesets.service import compiled, ensure_active
from points.workbench.simulation import simulate_stored, window_for
from rules import compile_ruleset
from tests.support.boards import set_roll
from tests.support.rulesets import Company, doubled_doc_shared
from tests.support.services import Store


async def test_chunk_size_does_not_change_the_report(pg: Store, company: Company) -> None:
    zone = pg.settings.zone
    candidate = compile_ruleset(doubled_doc_shared(), version=0)
    async with pg.db.session() as session:
        active = compiled(await ensure_active(session))
        window = window_for(zone, days=30)
        small = await simulate_stored(session, candidate, active, window, zone, chunk=2)
        large = await simulate_stored(session, candidate, active, window, zone)
    assert small.to_dict() | {"elapsed_seconds": 0} == large.to_dict() | {"elapsed_seconds": 0}
    assert small.events == 5 and small.inflation == 12


async def test_excluded_people_are_left_out(pg: Store, company: Company) -> None:
    async with pg.db.session() as session:
        zhang = company.zhang
        await set_roll(session, zhang, excluded=True)
        await session.commit()
        active = compiled(await ensure_active(session))
        report = await simulate_stored(
            session, active, active, window_for(pg.settings.zone, days=30), pg.settings.zone
        )
    assert set(report.by_person) == {"lisi"}


async def test_simulation_bench_runs(pg: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POINTS_BENCH_SIM_EVENTS", "3000")
    result = await run(quick=True)
    assert result.name == "simulation" and result.details["events"] == 3000
    assert result.figure > 0 and result.baseline > 0


async def test_simulation_streams_on_sqlite_too(lite: Store) -> None:
    from datetime import datetime, timedelta

    from tests.support.events import SHANGHAI, event, send
    from tests.support.factories import make_department, make_employee

    async with lite.db.session() as session:
        sales = await make_department(session, "销售部")
        await make_employee(session, sales, userid="zhangsan")
        await session.commit()
    when = datetime.now(SHANGHAI) - timedelta(days=2)
    await send(lite, [event("doc:1", "doc.shared", "zhangsan", when, doc_id="d1")])
    zone = lite.settings.zone
    async with lite.db.session() as session:
        active = compiled(await ensure_active(session))
        report = await simulate_stored(
            session,
            compile_ruleset(doubled_doc_shared(), version=0),
            active,
            window_for(zone, days=30),
            zone,
        )
    assert report.to_dict()["total"]["difference"] == 3


async def test_simulation_loads_only_the_people_with_events(pg: Store, company: Company) -> None:
    from points.workbench.simulation import Person, department_labels, stored_events

    zone = pg.settings.zone
    async with pg.db.session() as session:
        labels = await department_labels(session)
        staff: dict[int, Person] = {}
        window = window_for(zone, days=30)
        actors = await session.run_sync(
            lambda sync: [e.actor for _i, _e, e in stored_events(sync, window, staff, labels, 2)]
        )
    # 赵六 (HR) has no events in the window: the simulation never reads her row.
    assert sorted(p.userid for p in staff.values()) == ["lisi", "zhangsan"]
    assert sorted(set(actors)) == ["lisi", "zhangsan"] and len(actors) == 5
