"""Contacts sync from the fake WeCom: tree, hires, moves, leavers."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from points.audit.models import AuditEntry
from points.auth.service import principal_for_userid
from points.boards.earned import department_points, members_and_participants, span_of
from points.boards.windows import Window
from points.calendar import key_at
from points.dashboards.dashboard import dashboard
from points.db import utcnow
from points.devtools.fake_wecom import FakeWeCom
from points.events.models import ActivityEvent, EventStatus
from points.jobs import InlineQueue
from points.ledger.models import DepartmentScore, LedgerTransaction, Period
from points.ledger.reconcile import reconcile
from points.org.models import Department, Employee, EmployeeStatus
from points.settings import Settings
from points.wecom.contacts import SuspiciousSync
from points.wecom.crypto import CallbackCrypto
from points.wecom.jobs import run_connector_job
from points.wecom.models import ConnectorState
from points.wecom.samples import approval_callback_message, approval_detail, contact_change_message
from tests.support.boards import set_roll
from tests.support.services import Store
from tests.support.wecom import deliver

HOUR = 3600


def _decided_by(approver: str, sp_no: str, settings: Settings) -> str:
    """An approval (template without an on-time rule) its approver decided within the hour."""
    applied = int(time.time()) - 2 * HOUR
    detail = approval_detail(
        sp_no,
        "zhangsan",
        applied,
        sp_name="通用",
        sp_status=2,
        approvers=[(approver, 2, applied + HOUR)],
    )
    return approval_callback_message(
        detail, status_change=2, create_time=applied + HOUR, corp_id=settings.WECOM_CORP_ID
    )


async def test_sync_builds_the_tree_and_the_people(
    pg: Store, fake: FakeWeCom, jobs: InlineQueue
) -> None:
    result = await run_connector_job(jobs, "wecom_sync_contacts")
    assert (result["departments"], result["hired"]) == (5, 5)
    async with pg.db.session() as session:
        paths = dict((await session.exec(select(Department.id, Department.path))).all())
        people = dict((await session.exec(select(Employee.userid, Employee.department_id))).all())
        state = await session.get(ConnectorState, "contacts")
    assert paths == {1: "/1/", 2: "/1/2/", 3: "/1/3/", 4: "/1/4/", 5: "/1/3/5/"}
    assert people == {"zhangsan": 2, "lisi": 2, "wangwu": 3, "zhaoliu": 5, "sunqi": 4}
    assert state is not None and state.last_success_at is not None


async def test_a_move_keeps_past_points_with_the_old_department(
    web: httpx.AsyncClient,
    wapp: Starlette,
    pg: Store,
    fake: FakeWeCom,
    settings: Settings,
    crypto: CallbackCrypto,
    jobs: InlineQueue,
) -> None:
    await run_connector_job(jobs, "wecom_sync_contacts")
    await deliver(web, wapp, crypto, _decided_by("zhaoliu", "202600000101", settings))
    zhaoliu = next(u for u in fake.users if u["userid"] == "zhaoliu")
    zhaoliu.update(department=[4], main_department=4)  # 华东销售组 → 技术部
    moved = await run_connector_job(jobs, "wecom_sync_contacts")
    assert moved["moved"] == 1
    await deliver(web, wapp, crypto, _decided_by("zhaoliu", "202600000102", settings))

    async with pg.db.session() as session:
        ledger = (
            await session.exec(
                select(LedgerTransaction.department_id, LedgerTransaction.points).order_by(
                    col(LedgerTransaction.id)
                )
            )
        ).all()
        scores = dict(
            (
                await session.exec(
                    select(DepartmentScore.department_id, DepartmentScore.points).where(
                        DepartmentScore.period == Period.all
                    )
                )
            ).all()
        )
        audit = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "employee.moved"))
        ).one()
        # What the department board reads before folding small teams, and the dashboard.
        span = span_of(Window(Period.all, "all"), settings.zone)
        members = await members_and_participants(session, span, settings.zone, [4, 5])
        earned = await department_points(session, span, [4, 5])
        month = key_at(Period.month, utcnow(), settings.zone)
        views = {}
        for department_id in (4, 5):
            views[department_id] = await dashboard(
                session,
                department=await session.get(Department, department_id),
                period=Period.month,
                key=month,
                zone=settings.zone,
                show_inactive=False,
            )
    assert ledger == [(5, 2), (4, 2)]
    assert scores == {5: 2, 4: 2}
    assert audit.details == {"from": 5, "to": 4}
    # 华东销售组 keeps the 2 earned there; 技术部 (sunqi, and zhaoliu since the move) has 2.
    # (members, of whom earned there): zhaoliu counts in both, sunqi earned nothing.
    assert members == {5: (1, 1), 4: (2, 1)}
    assert earned == {5: 2, 4: 2}
    for department_id in (4, 5):
        view = views[department_id]
        assert view.points == 2
        assert [(c.name, c.points) for c in view.contributors] == [("赵六", 2)]


async def test_people_gone_from_wecom_leave_and_are_frozen(
    pg: Store, fake: FakeWeCom, jobs: InlineQueue
) -> None:
    await run_connector_job(jobs, "wecom_sync_contacts")
    fake.users = [u for u in fake.users if u["userid"] != "sunqi"]
    result = await run_connector_job(jobs, "wecom_sync_contacts")
    assert result["left"] == 1
    async with pg.db.session() as session:
        sunqi = (await session.exec(select(Employee).where(Employee.userid == "sunqi"))).one()
        audit = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "employee.left"))
        ).one()
        assert await principal_for_userid(session, "sunqi") is None  # cannot log in
    assert sunqi.status == EmployeeStatus.left and sunqi.left_on is not None
    assert audit.target == "sunqi"
    assert "holds_released" in audit.details


async def test_a_delete_user_callback_starts_the_leaver_flow(
    web: httpx.AsyncClient,
    wapp: Starlette,
    pg: Store,
    settings: Settings,
    crypto: CallbackCrypto,
    jobs: InlineQueue,
) -> None:
    await run_connector_job(jobs, "wecom_sync_contacts")
    message = contact_change_message(
        "delete_user", create_time=int(time.time()), corp_id=settings.WECOM_CORP_ID, UserID="lisi"
    )
    for _ in range(2):  # a retry changes nothing more
        assert (await deliver(web, wapp, crypto, message)).status_code == 200
    async with pg.db.session() as session:
        lisi = (await session.exec(select(Employee).where(Employee.userid == "lisi"))).one()
        left = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "employee.left"))
        ).all()
    assert lisi.status == EmployeeStatus.left
    assert len(left) == 1


async def test_a_new_hire_gets_the_points_that_waited_for_them(
    web: httpx.AsyncClient,
    wapp: Starlette,
    pg: Store,
    fake: FakeWeCom,
    settings: Settings,
    crypto: CallbackCrypto,
    jobs: InlineQueue,
) -> None:
    await run_connector_job(jobs, "wecom_sync_contacts")
    await deliver(web, wapp, crypto, _decided_by("xiaoming", "202600000201", settings))
    async with pg.db.session() as session:
        waiting = (
            await session.exec(select(ActivityEvent).where(ActivityEvent.actor == "xiaoming"))
        ).one()
    assert waiting.status == EventStatus.unmatched
    fake.users.append(
        {"userid": "xiaoming", "name": "小明", "department": [4], "main_department": 4, "status": 1}
    )
    result = await run_connector_job(jobs, "wecom_sync_contacts")
    assert (result["hired"], result["matched_events"]) == (1, 1)
    async with pg.db.session() as session:
        awarded = (
            await session.exec(
                select(LedgerTransaction.points, LedgerTransaction.department_id).where(
                    LedgerTransaction.event_id == waiting.id
                )
            )
        ).all()
    assert awarded == [(2, 4)]


async def test_an_empty_directory_changes_nothing(
    pg: Store, fake: FakeWeCom, jobs: InlineQueue
) -> None:
    await run_connector_job(jobs, "wecom_sync_contacts")
    fake.users = []
    with pytest.raises(SuspiciousSync):
        await run_connector_job(jobs, "wecom_sync_contacts")
    async with pg.db.session() as session:
        statuses = set((await session.exec(select(Employee.status))).all())
        state = await session.get(ConnectorState, "contacts")
    assert statuses == {EmployeeStatus.active}
    assert state is not None and state.failures == 1


async def test_a_leaver_who_rejoins_counts_again_where_they_earned(
    web: httpx.AsyncClient,
    wapp: Starlette,
    pg: Store,
    fake: FakeWeCom,
    settings: Settings,
    crypto: CallbackCrypto,
    jobs: InlineQueue,
) -> None:
    await run_connector_job(jobs, "wecom_sync_contacts")
    await deliver(web, wapp, crypto, _decided_by("zhaoliu", "202600000201", settings))

    async def participants() -> int:
        async with pg.db.session() as session:
            row = (
                await session.exec(
                    select(DepartmentScore.participants).where(
                        DepartmentScore.department_id == 5, DepartmentScore.period == Period.all
                    )
                )
            ).one()
            report = await reconcile(session, settings.zone)
        assert report.clean, report.problems
        return row

    assert await participants() == 1
    zhaoliu = next(u for u in fake.users if u["userid"] == "zhaoliu")
    fake.users = [u for u in fake.users if u["userid"] != "zhaoliu"]
    assert (await run_connector_job(jobs, "wecom_sync_contacts"))["left"] == 1
    assert await participants() == 1  # left today: still on the roll of all time
    async with pg.db.session() as session:
        # A leaver recorded without a leaving date (older data) is off every window.
        person = (await session.exec(select(Employee).where(Employee.userid == "zhaoliu"))).one()
        await set_roll(session, person, status=EmployeeStatus.left, left_on=None)
        await session.commit()
    assert await participants() == 0
    fake.users.append(zhaoliu)
    assert (await run_connector_job(jobs, "wecom_sync_contacts"))["rejoined"] == 1
    assert await participants() == 1
