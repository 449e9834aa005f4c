from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlmodel import func, select
from starlette.applications import Starlette

from points.cli import main
from points.events.models import ActivityEvent, EventConflict, EventStatus
from points.events.service import match_unmatched
from points.jobs import InlineQueue, commit
from points.ledger.models import AccountKind
from points.ledger.service import balances
from points.org.models import Role
from points.settings import get_settings
from tests.support.events import event, send
from tests.support.factories import make_department, make_employee, make_token
from tests.support.services import Store

APPROVAL = {
    "external_id": "approval:202411240001:submitted",
    "type": "approval.submitted",
    "actor": "zhangsan",
    "occurred_at": "2026-11-24T09:30:00+08:00",
    "attributes": {"template": "报销", "sp_no": "202411240001", "on_time": True},
}


@pytest.fixture
async def zhang(pg: Store) -> int:
    async with pg.db.session() as session:
        sales = await make_department(session, "销售部")
        employee = await make_employee(session, sales, userid="zhangsan")
        await session.commit()
        assert employee.id is not None
        return employee.id


async def _available(store: Store, employee_id: int) -> int:
    async with store.db.session() as session:
        return (await balances(session, employee_id))[AccountKind.available]


async def test_api_batch_reports_each_event_and_bad_ones_do_not_sink_good_ones(
    pg: Store, app: Starlette, client: httpx.AsyncClient, zhang: int
) -> None:
    async with pg.db.session() as session:
        token = await make_token(session, Role.hr)
        await session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    naive = {**APPROVAL, "external_id": "x:1", "occurred_at": "2026-11-24T09:30:00"}
    changed = {**APPROVAL, "attributes": {**APPROVAL["attributes"], "template": "请假"}}
    response = await client.post(
        "/api/v1/events", headers=headers, json=[APPROVAL, naive, APPROVAL, changed, {"type": 3}]
    )
    assert response.status_code == 207
    results = response.json()["results"]
    assert [r["status"] for r in results] == [
        "created",
        "invalid",
        "duplicate",
        "conflict",
        "invalid",
    ]
    assert "occurred_at" in results[1]["error"] and "timezone" in results[1]["error"]
    await app.state.queue.drain()  # scoring runs in the background in embedded mode
    assert await _available(pg, zhang) == 5
    async with pg.db.session() as session:
        stored = (await session.exec(select(ActivityEvent))).all()
        conflicts = (await session.exec(select(EventConflict))).all()
    assert len(stored) == 1 and stored[0].attributes["template"] == "报销"  # original kept
    assert [c.payload["attributes"]["template"] for c in conflicts] == ["请假"]


async def test_api_refuses_bodies_that_are_not_events(pg: Store, client: httpx.AsyncClient) -> None:
    async with pg.db.session() as session:
        hr = await make_token(session, Role.hr)
        await session.commit()
    headers = {"Authorization": f"Bearer {hr}"}
    bad = await client.post("/api/v1/events", headers=headers, content=b"{not json")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid"
    too_many = await client.post("/api/v1/events", headers=headers, json=[APPROVAL] * 1001)
    assert too_many.status_code == 422


async def test_an_employee_token_cannot_submit_events(
    pg: Store, client: httpx.AsyncClient, zhang: int
) -> None:
    async with pg.db.session() as session:
        token = await make_token(session, Role.employee, "zhangsan")
        await session.commit()
    response = await client.post(
        "/api/v1/events", json=APPROVAL, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403
    async with pg.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(ActivityEvent))).one() == 0


async def test_events_of_unknown_people_wait_and_are_scored_when_they_appear(pg: Store) -> None:
    approval = event(
        "approval:9:submitted",
        "approval.submitted",
        "newhire",
        "2026-11-24T09:30:00",
        template="请假",
        sp_no="9",
        on_time=True,
    )
    assert await send(pg, [approval]) == ["created"]
    async with pg.db.session() as session:
        stored = (await session.exec(select(ActivityEvent))).one()
        assert stored.status == EventStatus.unmatched
        sales = await make_department(session, "销售部")
        newhire = await make_employee(session, sales, userid="newhire")
        assert await match_unmatched(session, ["newhire"]) == 1
        await commit(session, InlineQueue(pg.settings, pg.db))
    assert newhire.id is not None
    assert await _available(pg, newhire.id) == 5


async def test_import_reports_errors_by_line_and_imports_the_rest(
    pg: Store, zhang: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jsonl = tmp_path / "events.jsonl"
    lines = [
        json.dumps(APPROVAL, ensure_ascii=False),
        "{broken",
        json.dumps({**APPROVAL, "external_id": "a:2", "actor": ""}, ensure_ascii=False),
    ]
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    csv_file = tmp_path / "events.csv"
    csv_file.write_text(
        "external_id,type,actor,occurred_at,title,recipients\n"
        "doc:1:shared,doc.shared,zhangsan,2026-11-24T10:00:00+08:00,周报,3\n"
        "doc:2:shared,doc.shared,zhangsan,yesterday,周报,3\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("POINTS_DATABASE_URL", pg.settings.DATABASE_URL)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        first = await asyncio.to_thread(runner.invoke, main, ["import-events", str(jsonl)])
        second = await asyncio.to_thread(runner.invoke, main, ["import-events", str(csv_file)])
        again = await asyncio.to_thread(runner.invoke, main, ["import-events", str(jsonl)])
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 1
    assert "line 2: invalid: not JSON" in first.output
    assert "line 3: invalid: actor" in first.output
    assert "created 1, duplicate 0, conflict 0, invalid 2" in first.output
    assert "line 3: invalid: occurred_at" in second.output
    assert "created 1" in second.output
    assert "created 0, duplicate 1" in again.output
    assert await _available(pg, zhang) == 5 + 3  # approval +5, shared document +3


async def test_attributes_are_checked_against_the_catalogue(
    pg: Store, app: Starlette, client: httpx.AsyncClient, zhang: int, tmp_path: Path
) -> None:
    async with pg.db.session() as session:
        token = await make_token(session, Role.hr)
        await session.commit()
    wrong = {**APPROVAL, "external_id": "x:2", "attributes": {"sp_no": "1", "on_time": "yes"}}
    numeric = {**APPROVAL, "external_id": "x:3", "attributes": {"sp_no": 42, "on_time": True}}
    response = await client.post(
        "/api/v1/events", headers={"Authorization": f"Bearer {token}"}, json=[wrong, numeric]
    )
    results = response.json()["results"]
    assert results[0]["status"] == "invalid"
    assert results[0]["error"] == "attributes.on_time: expected true or false, got 'yes'"
    assert results[1]["status"] == "created"
    csv_file = tmp_path / "approvals.csv"
    csv_file.write_text(
        "external_id,type,actor,occurred_at,sp_no,on_time,template\n"
        "a:1,approval.submitted,zhangsan,2026-11-24T10:00:00+08:00,007,true,报销\n"
        "a:2,approval.submitted,zhangsan,2026-11-24T10:00:00+08:00,008,maybe,报销\n",
        encoding="utf-8",
    )
    from points.events.importer import import_file

    report = await import_file(pg.db, InlineQueue(pg.settings, pg.db), csv_file)
    assert report.created == 1 and report.invalid == 1
    assert report.errors == [
        "line 3: invalid: attributes.on_time: expected true or false, got 'maybe'"
    ]
    async with pg.db.session() as session:
        stored = (
            await session.exec(select(ActivityEvent).where(ActivityEvent.external_id == "a:1"))
        ).one()
        numbered = (
            await session.exec(select(ActivityEvent).where(ActivityEvent.external_id == "x:3"))
        ).one()
    assert stored.attributes["sp_no"] == "007"  # an id keeps its leading zeros
    assert numbered.attributes["sp_no"] == "42"
