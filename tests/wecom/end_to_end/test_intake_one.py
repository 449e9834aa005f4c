"""``ingest_one``: the callback's one-statement intake gives exactly what ``ingest`` gives."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from points.events.models import ActivityEvent, EventConflict, EventStatus
from points.events.schemas import EventIn
from points.events.service import SCORE_JOB, IntakeResult, ingest, ingest_one
from points.jobs import commit
from tests.support.factories import make_department, make_employee
from tests.support.services import Store

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(params=["pg", "lite"])
def store(request: pytest.FixtureRequest) -> Store:
    """Each test runs on PostgreSQL (the one-statement path) and SQLite (``ingest``)."""
    found: Store = request.getfixturevalue(request.param)
    return found


def _event(external_id: str, actor: str = "wangwu", **attributes: Any) -> EventIn:
    return EventIn(
        external_id=external_id,
        type="app.entered",
        actor=actor,
        occurred_at=datetime(2026, 11, 24, 9, 30, tzinfo=SHANGHAI),
        attributes={"agent_id": "1000002", **attributes},
    )


@dataclass
class RecordingQueue:
    """Records what is sent and whether the scored rows were committed by then."""

    store: Store
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    committed_when_sent: list[bool] = field(default_factory=list)

    async def enqueue(self, name: str, **kwargs: Any) -> None:
        self.sent.append((name, kwargs))
        async with self.store.db.session() as other:  # another connection: committed rows only
            ids = kwargs.get("event_ids", [])
            seen = (
                await other.exec(select(ActivityEvent.id).where(col(ActivityEvent.id).in_(ids)))
            ).all()
        self.committed_when_sent.append(len(seen) == len(ids))

    async def close(self) -> None:
        return None


async def _employee(store: Store, userid: str = "wangwu") -> int:
    async with store.db.session() as session:
        employee = await make_employee(session, await make_department(session), userid=userid)
        await session.commit()
    assert employee.id is not None
    return employee.id


async def _one(store: Store, event: EventIn, queue: RecordingQueue) -> IntakeResult:
    async with store.db.session() as session:
        result = await ingest_one(session, "wecom", event)
        await commit(session, queue)
    return result


async def _rows(store: Store, source: str) -> list[ActivityEvent]:
    async with store.db.session() as session:
        query = select(ActivityEvent).where(ActivityEvent.source == source)
        return list((await session.exec(query.order_by(col(ActivityEvent.id)))).all())


async def test_a_new_event_is_created_and_scored_only_after_commit(store: Store) -> None:
    employee_id = await _employee(store)
    queue = RecordingQueue(store)
    async with store.db.session() as session:
        result = await ingest_one(session, "wecom", _event("enter:1"))
        assert queue.sent == []  # nothing goes out before the commit
        await commit(session, queue)
    assert result.status == "created"
    assert queue.sent == [(SCORE_JOB, {"event_ids": [result.event_id]})]
    assert queue.committed_when_sent == [True]
    (row,) = await _rows(store, "wecom")
    assert (row.id, row.employee_id, row.status) == (
        result.event_id,
        employee_id,
        EventStatus.pending,
    )
    assert row.attributes == {"agent_id": "1000002"}
    assert row.occurred_at == datetime(2026, 11, 24, 9, 30, tzinfo=SHANGHAI)


async def test_the_same_event_again_is_a_duplicate_and_sends_nothing(store: Store) -> None:
    await _employee(store)
    queue = RecordingQueue(store)
    first = await _one(store, _event("enter:1"), queue)
    again = [await _one(store, _event("enter:1"), queue) for _ in range(3)]
    assert [r.status for r in again] == ["duplicate"] * 3
    assert {r.event_id for r in again} == {first.event_id}
    assert len(queue.sent) == 1
    assert len(await _rows(store, "wecom")) == 1


async def test_a_different_payload_under_a_known_id_is_a_recorded_conflict(
    store: Store,
) -> None:
    await _employee(store)
    queue = RecordingQueue(store)
    first = await _one(store, _event("enter:1"), queue)
    changed = _event("enter:1", agent_id="9")
    results = [await _one(store, changed, queue) for _ in range(2)]
    assert [r.status for r in results] == ["conflict", "conflict"]
    assert {r.event_id for r in results} == {first.event_id}
    assert len(queue.sent) == 1  # only the original was scored
    (row,) = await _rows(store, "wecom")
    assert row.attributes == {"agent_id": "1000002"}  # the original is kept
    async with store.db.session() as session:
        (conflict,) = (await session.exec(select(EventConflict))).all()
    assert conflict.event_id == first.event_id
    assert conflict.payload["attributes"] == {"agent_id": "9"}
    assert conflict.times_seen == 2


async def test_an_unknown_actor_waits_unmatched_and_is_not_scored(store: Store) -> None:
    queue = RecordingQueue(store)
    result = await _one(store, _event("enter:1", actor="newhire"), queue)
    assert result.status == "created"
    assert queue.sent == []
    (row,) = await _rows(store, "wecom")
    assert (row.employee_id, row.status) == (None, EventStatus.unmatched)


async def test_it_stores_and_reports_exactly_what_ingest_does(store: Store) -> None:
    await _employee(store)
    sequence = [
        _event("e:1"),
        _event("e:2", actor="nobody"),
        _event("e:1"),
        _event("e:1", changed=True),
        _event("e:3", nested={"list": [1, "二"], "flag": False}),
        _event("e:2", actor="nobody"),
    ]
    batch_queue, one_queue = RecordingQueue(store), RecordingQueue(store)
    by_ingest: list[str] = []
    by_one: list[str] = []
    for event in sequence:
        async with store.db.session() as session:
            (result,) = await ingest(session, "batch", [event])
            await commit(session, batch_queue)
        by_ingest.append(result.status)
        by_one.append((await _one(store, event, one_queue)).status)
    assert (
        by_one
        == by_ingest
        == ["created", "created", "duplicate", "conflict", "created", "duplicate"]
    )
    assert len(one_queue.sent) == len(batch_queue.sent) == 2

    columns = [c.name for c in ActivityEvent.__table__.columns]  # type: ignore[attr-defined]

    def shape(row: ActivityEvent) -> dict[str, Any]:
        return {c: getattr(row, c) for c in columns if c not in ("id", "source", "received_at")}

    assert [shape(r) for r in await _rows(store, "wecom")] == [
        shape(r) for r in await _rows(store, "batch")
    ]


# -- PostgreSQL: transactions and races --------------------------------------------------


async def test_inside_an_open_transaction_it_rolls_back_with_it(pg: Store) -> None:
    await _employee(pg)
    async with pg.db.session() as session:
        await session.exec(text("SELECT 1"))  # the session's transaction has begun
        result = await ingest_one(session, "wecom", _event("enter:1"))
        await session.rollback()
    assert result.status == "created"
    assert await _rows(pg, "wecom") == []


@pytest.mark.parametrize(("changed", "expected"), [(False, "duplicate"), (True, "conflict")])
async def test_an_insert_racing_another_transaction_waits_and_reads_its_row(
    pg: Store, changed: bool, expected: str
) -> None:
    """The other transaction commits after the statement's snapshot was taken."""
    await _employee(pg)
    queue = RecordingQueue(pg)
    async with pg.db.session() as holder:
        (held,) = await ingest(holder, "wecom", [_event("enter:1")])
        racing = asyncio.create_task(
            _one(pg, _event("enter:1", agent_id="9") if changed else _event("enter:1"), queue)
        )
        await asyncio.sleep(0.3)
        assert not racing.done()  # waiting on the uncommitted row
        await commit(holder, None)  # the holder's own scoring job is not under test
    result = await asyncio.wait_for(racing, 10)
    assert (result.status, result.event_id) == (expected, held.event_id)
    assert queue.sent == []
    assert len(await _rows(pg, "wecom")) == 1
