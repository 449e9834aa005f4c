"""Onboarding quests (新手任务) under the default rules: the checklist ticks, the bonus comes
once, HR and heads see completion by department, and a stuck person can be nudged."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlmodel import col, select

from points.audit.models import AuditEntry
from points.auth.service import principal_for_employee
from points.challenges import onboarding
from points.challenges.service import standing
from points.errors import Forbidden, InvalidInput
from points.ledger.models import LedgerTransaction
from points.notifications.models import Notification
from points.org import service as org
from points.org.models import Department, Employee, Role
from tests.support.events import SHANGHAI, event, send
from tests.support.factories import make_department, make_employee
from tests.support.services import Store


@pytest.fixture(params=["pg", "lite"])
def store(request: pytest.FixtureRequest) -> Store:
    """Scoring runs on PostgreSQL and on SQLite."""
    found: Store = request.getfixturevalue(request.param)
    return found


def today() -> date:
    return datetime.now(SHANGHAI).date()


def at(days_ago: int, hour: int = 10) -> datetime:
    moment = datetime.now(SHANGHAI) - timedelta(days=days_ago)
    return moment.replace(hour=hour, minute=0, second=0, microsecond=0)


async def _joiner(
    store: Store, department: Department, userid: str, days_ago: int, name: str = "新人"
) -> Employee:
    async with store.db.session() as session:
        person = await org.upsert_employee(
            session,
            userid=userid,
            name=name,
            department_id=department.id,
            joined_on=today() - timedelta(days=days_ago),
        )
        await session.commit()
        return person


async def _checklist(store: Store, person: Employee) -> list[tuple[str, bool]]:
    async with store.db.session() as session:
        found = await standing(session, store.settings, person, today())
    assert len(found.onboarding) == 1
    return [(g.title, g.met) for g in found.onboarding[0].goals]


async def _bonuses(store: Store, person: Employee) -> list[tuple[int, str | None]]:
    async with store.db.session() as session:
        rows = await session.exec(
            select(LedgerTransaction).where(
                LedgerTransaction.employee_id == person.id,
                LedgerTransaction.rule_id == "onboarding-quests",
            )
        )
        return [(r.points, r.badge) for r in rows.all()]


async def test_the_checklist_ticks_as_first_approval_and_meeting_are_scored_and_pays_once(
    store: Store,
) -> None:
    async with store.db.session() as session:
        admin_office = await make_department(session, "行政部")
        await session.commit()
    xiao = await _joiner(store, admin_office, "xiaozhou", days_ago=5)
    assert await _checklist(store, xiao) == [
        ("线上提交第一个审批", False),
        ("发起第一次会议", False),
        ("分享第一份文档", False),
    ]  # 行政部 has no customer goal
    await send(
        store,
        [
            event(
                "sp:1",
                "approval.submitted",
                "xiaozhou",
                at(4),
                template="请假",
                sp_no="1",
                on_time=True,
            )
        ],
    )
    assert [met for _t, met in await _checklist(store, xiao)] == [True, False, False]
    await send(
        store, [event("m:1", "meeting.started", "xiaozhou", at(3), meeting_id="m1", attendees=2)]
    )
    assert [met for _t, met in await _checklist(store, xiao)] == [True, True, False]
    assert await _bonuses(store, xiao) == []
    await send(store, [event("d:1", "doc.shared", "xiaozhou", at(2), doc_id="d1")])
    assert [met for _t, met in await _checklist(store, xiao)] == [True, True, True]
    assert await _bonuses(store, xiao) == [(30, "新手毕业")]
    # More of the same later: the bonus is never paid twice.
    await send(
        store,
        [
            event("d:2", "doc.shared", "xiaozhou", at(1), doc_id="d2"),
            event("m:2", "meeting.started", "xiaozhou", at(1, 15), meeting_id="m2", attendees=2),
        ],
    )
    assert await _bonuses(store, xiao) == [(30, "新手毕业")]


async def test_sales_joiners_also_tag_a_customer_and_old_hands_have_no_quests(
    store: Store,
) -> None:
    async with store.db.session() as session:
        sales = await make_department(session, "销售部")
        east = await make_department(session, "华东区", parent=sales)
        await session.commit()
    seller = await _joiner(store, east, "xiaoqian", days_ago=3)
    assert [t for t, _m in await _checklist(store, seller)][-1] == "给第一位客户打标签"
    veteran = await _joiner(store, east, "laowang", days_ago=400)
    async with store.db.session() as session:
        assert (await standing(session, store.settings, veteran, today())).onboarding == []


async def test_heads_see_completion_of_their_departments_and_nudge_once_a_day(pg: Store) -> None:
    async with pg.db.session() as session:
        sales = await make_department(session, "销售部")
        office = await make_department(session, "行政部")
        head = await make_employee(session, sales, userid="head", name="销售主管", role=Role.head)
        hr = await make_employee(session, office, userid="hr", name="人事", role=Role.hr)
        await session.commit()
    stuck = await _joiner(pg, sales, "xiaowu", days_ago=12, name="小吴")
    fresh = await _joiner(pg, sales, "xiaoliu", days_ago=2, name="小刘")
    clerk = await _joiner(pg, office, "xiaochen", days_ago=9, name="小陈")
    for userid, n in (("xiaochen", 8), ("xiaowu", 10)):
        await send(
            pg,
            [
                event(
                    f"{userid}:a",
                    "approval.submitted",
                    userid,
                    at(n),
                    template="报销",
                    sp_no=f"{userid}1",
                    on_time=True,
                ),
                event(
                    f"{userid}:m",
                    "meeting.started",
                    userid,
                    at(n, 11),
                    meeting_id=userid,
                    attendees=2,
                ),
                event(f"{userid}:d", "doc.shared", userid, at(n, 12), doc_id=userid),
            ],
        )
    async with pg.db.session() as session:
        as_head = await principal_for_employee(session, head)
        seen = await onboarding.overview(session, pg.settings, as_head, today())
        assert [(r.name, r.joiners, r.done, r.stuck, r.percent) for r in seen.departments] == [
            ("销售部", 2, 0, 1, 0)
        ]
        assert {j.employee.userid: (j.stuck, j.goals_met, j.goals) for j in seen.joiners} == {
            "xiaowu": (True, 3, 4),  # no customer tagged yet, day 12
            "xiaoliu": (False, 0, 4),
        }
        as_hr = await principal_for_employee(session, hr)
        everyone = await onboarding.overview(session, pg.settings, as_hr, today())
        assert {(r.name, r.percent) for r in everyone.departments} == {
            ("销售部", 0),
            ("行政部", 100),
        }

        assert await onboarding.nudge(session, pg.settings, as_head, "xiaowu", today(), "10.0.0.9")
        await session.commit()
        assert not await onboarding.nudge(session, pg.settings, as_head, "xiaowu", today())
        assert not await onboarding.nudge(session, pg.settings, as_hr, "xiaowu", today())
        await session.commit()
        messages = (
            await session.exec(select(Notification).where(Notification.userid == "xiaowu"))
        ).all()
        assert [(m.kind, m.title, m.url) for m in messages] == [
            (f"onboarding.nudge.{today().isoformat()}", "你的新手任务：还差 1 项", "/")
        ]
        assert "给第一位客户打标签" in messages[0].body
        audit = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "onboarding.nudge"))
        ).all()
        assert [(a.actor, a.target) for a in audit] == [("head", "xiaowu")]
        again = await onboarding.overview(session, pg.settings, as_head, today())
        assert {j.employee.userid for j in again.joiners if j.nudged_today} == {"xiaowu"}

        # A head nudges only their own departments; a finished joiner needs no nudge.
        with pytest.raises(Forbidden):
            await onboarding.nudge(session, pg.settings, as_head, clerk.userid, today())
        with pytest.raises(InvalidInput):
            await onboarding.nudge(session, pg.settings, as_hr, clerk.userid, today())
        assert fresh.id is not None and stuck.id is not None
        count = (
            await session.exec(
                select(Notification.id).where(col(Notification.kind).startswith("onboarding"))
            )
        ).all()
        assert len(count) == 1
