"""The same event arriving many times at once is stored once and scored once."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlmodel import func, select
from starlette.applications import Starlette

from points.db import Database
from points.events.models import ActivityEvent, EventStatus
from points.events.service import ingest
from points.jobs import InlineQueue, commit
from points.ledger.models import AccountKind, LedgerTransaction, Period, PeriodScore
from points.ledger.reconcile import reconcile
from points.ledger.service import balances
from points.org.models import Role
from points.rulesets.models import RuleVersion
from points.scoring.service import score_events
from tests.support.events import event
from tests.support.factories import make_department, make_employee, make_token
from tests.support.processes import make_people, workload
from tests.support.services import Store

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("faults")]

COPIES = 50

APPROVAL = event(
    "approval:SP777:submitted",
    "approval.submitted",
    "zhangsan",
    "2026-11-24T09:30:00",
    template="报销",
    sp_no="SP777",
    on_time=True,
)


async def _assert_one_award_of_five(pg: Store, employee_id: int) -> None:
    async with pg.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(ActivityEvent))).one() == 1
        stored = (await session.exec(select(ActivityEvent))).one()
        assert stored.status == EventStatus.scored
        awards = (await session.exec(select(LedgerTransaction))).all()
        assert [(a.event_id, a.rule_id, a.points) for a in awards] == [
            (stored.id, "approval-on-time", 5)
        ]
        assert (await balances(session, employee_id))[AccountKind.available] == 5
        week = (
            await session.exec(
                select(PeriodScore.points).where(
                    PeriodScore.employee_id == employee_id, PeriodScore.period == Period.week
                )
            )
        ).all()
        assert list(week) == [5]
        report = await reconcile(session, pg.settings.zone)
        assert report.clean, report.problems


async def test_fifty_concurrent_intakes_and_scorings_of_one_event(pg: Store) -> None:
    async with pg.db.session() as session:
        zhang = await make_employee(session, await make_department(session), userid="zhangsan")
        await session.commit()
    assert zhang.id is not None
    # One connection per copy, so the copies really race inside PostgreSQL.
    db = Database(pg.settings, pool_size=25, max_overflow=30)
    queue = InlineQueue(pg.settings, db)

    async def post_once() -> str:
        async with db.session() as session:
            [result] = await ingest(session, "api", [APPROVAL])
            await commit(session, queue)  # the first copy is scored here, inline
        async with db.session() as session:
            # …and every copy asks for scoring again, as a retried job would.
            await score_events(session, pg.settings, [result.event_id])
            await session.commit()
        return result.status

    try:
        statuses = await asyncio.gather(*(post_once() for _ in range(COPIES)))
    finally:
        await db.dispose()
    assert sorted(statuses) == ["created"] + ["duplicate"] * (COPIES - 1)
    await _assert_one_award_of_five(pg, zhang.id)


async def test_fifty_concurrent_api_posts_of_one_event(
    pg: Store, app: Starlette, client: httpx.AsyncClient
) -> None:
    async with pg.db.session() as session:
        zhang = await make_employee(session, await make_department(session), userid="zhangsan")
        token = await make_token(session, Role.hr)
        await session.commit()
    assert zhang.id is not None
    body = APPROVAL.model_dump(mode="json")
    headers = {"Authorization": f"Bearer {token}"}

    responses = await asyncio.gather(
        *(client.post("/api/v1/events", json=body, headers=headers) for _ in range(COPIES))
    )
    assert {r.status_code for r in responses} == {200}, [r.text for r in responses][:3]
    statuses = sorted(r.json()["results"][0]["status"] for r in responses)
    assert statuses == ["created"] + ["duplicate"] * (COPIES - 1)
    await app.state.queue.drain()  # the embedded queue scores in background tasks
    await _assert_one_award_of_five(pg, zhang.id)


async def test_a_new_installation_scores_concurrent_first_batches(pg: Store) -> None:
    """Many workers scoring at once before any rule version exists: one default v1."""
    userids = await make_people(pg.db, 20)
    events = workload(userids, 20)  # one event per person
    async with pg.db.session() as session:
        results = await ingest(session, "api", events)
        await commit(session, None)
    db = Database(pg.settings, pool_size=25, max_overflow=30)

    async def score(event_id: int) -> None:
        async with db.session() as session:
            await score_events(session, pg.settings, [event_id])
            await session.commit()

    try:
        await asyncio.gather(*(score(r.event_id) for r in results))
    finally:
        await db.dispose()
    async with pg.db.session() as session:
        versions = (await session.exec(select(RuleVersion.status))).all()
        assert list(versions) == ["active"]
        scored = (
            await session.exec(
                select(func.count()).where(ActivityEvent.status == EventStatus.scored)
            )
        ).one()
        assert scored == len(events)
        report = await reconcile(session, pg.settings.zone)
        assert report.clean, report.problems
