"""Pull connectors against the fake WeCom: retries and lost callbacks award once."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from points.devtools.fake_wecom import FakeWeCom
from points.events.models import ActivityEvent
from points.jobs import InlineQueue
from points.ledger.models import AccountKind, LedgerTransaction
from points.ledger.service import balances
from points.org.models import Employee
from points.settings import Settings
from points.wecom.client import WeComError
from points.wecom.crypto import CallbackCrypto
from points.wecom.jobs import run_connector_job
from points.wecom.models import BehaviorDay, ConnectorState
from points.wecom.samples import approval_callback_message, approval_detail, date_control
from tests.support.factories import make_department, make_employee
from tests.support.services import Store
from tests.support.wecom import deliver

HOUR = 3600


async def _people(store: Store) -> dict[str, Employee]:
    async with store.db.session() as session:
        sales = await make_department(session, "销售部")
        people = {
            userid: await make_employee(session, sales, userid=userid, name=userid)
            for userid in ("zhangsan", "lisi")
        }
        await session.commit()
    return people


def _expense(sp_no: str, applied: int) -> dict[str, object]:
    """An expense claimed 5 days after the expense (on time), approved by lisi in an hour."""
    return approval_detail(
        sp_no,
        "zhangsan",
        applied,
        sp_name="报销",
        sp_status=2,
        approvers=[("lisi", 2, applied + HOUR)],
        contents=[date_control("费用日期", applied - 5 * 86400)],
    )


async def _ledger(store: Store) -> list[tuple[str, str | None, int]]:
    async with store.db.session() as session:
        rows = (
            await session.exec(
                select(Employee.userid, LedgerTransaction.rule_id, LedgerTransaction.points)
                .join(Employee, col(Employee.id) == col(LedgerTransaction.employee_id))
                .order_by(col(LedgerTransaction.id))
            )
        ).all()
    return [(u, r, p) for u, r, p in rows]


async def test_four_callbacks_and_a_pull_of_one_approval_award_once(
    web: httpx.AsyncClient,
    wapp: Starlette,
    pg: Store,
    fake: FakeWeCom,
    settings: Settings,
    crypto: CallbackCrypto,
    jobs: InlineQueue,
) -> None:
    people = await _people(pg)
    applied = int(time.time()) - 2 * HOUR
    detail = _expense("202600000001", applied)
    fake.approvals = {"202600000001": detail}
    message = approval_callback_message(
        detail, status_change=2, create_time=applied + HOUR, corp_id=settings.WECOM_CORP_ID
    )
    # WeCom's own retries: the same event, four deliveries.
    for _ in range(4):
        assert (await deliver(web, wapp, crypto, message)).status_code == 200
    await run_connector_job(jobs, "wecom_pull_approvals")

    assert sorted(await _ledger(pg)) == [
        ("lisi", "approver-turnaround", 2),
        ("zhangsan", "approval-on-time", 5),
    ]
    async with pg.db.session() as session:
        external_ids = (
            await session.exec(
                select(ActivityEvent.external_id).order_by(ActivityEvent.external_id)
            )
        ).all()
        assert people["zhangsan"].id is not None
        assert (await balances(session, people["zhangsan"].id))[AccountKind.available] == 5
    assert external_ids == [
        "approval:202600000001:approved",
        "approval:202600000001:decided:lisi",
        "approval:202600000001:submitted",
    ]


async def test_a_callback_lost_entirely_is_recovered_by_the_pull(
    pg: Store, fake: FakeWeCom, jobs: InlineQueue
) -> None:
    await _people(pg)
    fake.approvals = {"202600000002": _expense("202600000002", int(time.time()) - 5 * HOUR)}
    result = await run_connector_job(jobs, "wecom_pull_approvals")
    assert result["created"] == 3
    assert sorted(await _ledger(pg)) == [
        ("lisi", "approver-turnaround", 2),
        ("zhangsan", "approval-on-time", 5),
    ]
    again = await run_connector_job(jobs, "wecom_pull_approvals")
    assert (again["created"], again["duplicate"]) == (0, 3)
    assert len(await _ledger(pg)) == 2


async def test_the_approvals_connector_pages_and_resumes_after_a_failure(
    pg: Store, fake: FakeWeCom, jobs: InlineQueue
) -> None:
    await _people(pg)
    now = int(time.time())
    fake.approvals = {
        f"2026000001{i:02d}": _expense(f"2026000001{i:02d}", now - (i + 2) * HOUR) for i in range(5)
    }
    fake.fail_next("/cgi-bin/oa/getapprovalinfo", 50001, "injected outage")
    with pytest.raises(WeComError):
        await run_connector_job(jobs, "wecom_pull_approvals")
    async with pg.db.session() as session:
        failed = await session.get(ConnectorState, "approvals")
    assert failed is not None
    assert (failed.failures, failed.window_end) == (1, None)
    assert failed.last_error is not None and "50001" in failed.last_error

    result = await run_connector_job(jobs, "wecom_pull_approvals")
    assert result["created"] == 15  # five approvals, three events each, over three pages
    async with pg.db.session() as session:
        state = await session.get(ConnectorState, "approvals")
    assert state is not None and state.failures == 0 and state.window_end is not None
    first_end = state.window_end

    fake.fail_next("/cgi-bin/oa/getapprovalinfo", 50001, "injected outage")
    with pytest.raises(WeComError):
        await run_connector_job(jobs, "wecom_pull_approvals")
    async with pg.db.session() as session:
        state = await session.get(ConnectorState, "approvals")
    assert state is not None and state.window_end == first_end  # resumes from here


async def test_checkins_are_pulled_daily_and_only_once(
    pg: Store, fake: FakeWeCom, jobs: InlineQueue
) -> None:
    async with pg.db.session() as session:
        team = await make_department(session)
        for user in fake.users:
            await make_employee(session, team, userid=user["userid"], name=user["name"])
        await session.commit()
    first = await run_connector_job(jobs, "wecom_pull_checkins")
    assert first["created"] == len(fake.users)  # yesterday's check-in of each person
    assert await run_connector_job(jobs, "wecom_pull_checkins") == {"skipped": "up to date"}
    async with pg.db.session() as session:
        kinds = (await session.exec(select(ActivityEvent.type).distinct())).all()
    assert kinds == ["checkin.recorded"]


async def test_behaviour_data_is_stored_per_person_and_day(
    pg: Store, fake: FakeWeCom, jobs: InlineQueue
) -> None:
    async with pg.db.session() as session:
        team = await make_department(session)
        for user in fake.users:
            await make_employee(session, team, userid=user["userid"], name=user["name"])
        await session.commit()
    result = await run_connector_job(jobs, "wecom_pull_behavior")
    assert result["rows"] == 2
    async with pg.db.session() as session:
        rows = (await session.exec(select(BehaviorDay).order_by(BehaviorDay.userid))).all()
    assert [(r.userid, r.chat_cnt, r.message_cnt) for r in rows] == [
        ("wangwu", 1, 3),
        ("zhaoliu", 1, 3),
    ]
