from __future__ import annotations

from sqlmodel import col, func, select

from points.dashboards.models import Pilot, PilotPulse
from points.dashboards.pilots import goal_in_words, pilot_progress
from points.devtools.demo.build import build_demo
from points.devtools.demo.company import build_company
from points.i18n import use_locale
from points.ledger.models import LedgerTransaction
from points.org.models import Department, Employee, Role, RoleAssignment
from tests.support.services import Store


async def _company_facts(t: Store) -> tuple[int, int, int, list[str]]:
    async with t.db.session() as session:
        employees = (await session.exec(select(func.count()).select_from(Employee))).one()
        departments = (await session.exec(select(Department))).all()
        depth = max(d.path.count("/") - 1 for d in departments)
        userids = list((await session.exec(select(Employee.userid).order_by(Employee.id))).all())
        return employees, len(departments), depth, userids


async def test_demo_company_is_believable_and_reproducible(lite: Store, pg: Store) -> None:
    for target in (lite, pg):
        async with target.db.session() as session:
            company = await build_company(session, employees=300, seed=11)
            await session.commit()
        assert company.employees == 300
    lite_facts, pg_facts = await _company_facts(lite), await _company_facts(pg)
    assert lite_facts == pg_facts  # same seed, same company, whatever the database
    employees, departments, depth, userids = lite_facts
    assert employees == 300
    assert departments >= 9
    assert depth == 3  # company → 销售部 → 华东区
    assert len(set(userids)) == 300
    async with lite.db.session() as session:
        names = set((await session.exec(select(Department.name))).all())
        assert {"行政部", "销售部", "财务部", "人力资源部", "市场部", "技术部"} <= names
        roles = (await session.exec(select(RoleAssignment.role))).all()
        assert roles.count(Role.admin) == 1
        assert roles.count(Role.hr) == 2
        assert roles.count(Role.head) >= 8
        excluded = (await session.exec(select(Employee).where(col(Employee.excluded)))).all()
        assert [e.userid for e in excluded] == [company.admin]


async def test_building_the_demo_twice_changes_nothing(lite: Store) -> None:
    for _ in range(2):
        async with lite.db.session() as session:
            await build_company(session, employees=40, seed=3)
            await session.commit()
    employees, _departments, _depth, _userids = await _company_facts(lite)
    assert employees == 40


async def test_the_demo_runs_a_pilot_with_both_seed_goals_and_pulse_answers(lite: Store) -> None:
    await build_demo(lite.settings, employees=80, days=30, seed=7)
    async with lite.db.session() as session:
        pilot = (await session.exec(select(Pilot))).one()
        assert [g["label"] for g in pilot.goals] == ["审批效率提升 30%", "报销审批线上化率"]
        assert pilot.goals[1]["templates"] == ["报销"] and pilot.owner
        answers = (await session.exec(select(PilotPulse))).all()
        assert len(answers) == 5 and len({a.week_key for a in answers}) >= 2
        awarded = (
            await session.exec(
                select(func.count())
                .select_from(LedgerTransaction)
                .where(LedgerTransaction.rule_id == "pilot-feedback")
            )
        ).one()
        assert awarded == len(answers)  # each person's answer of a week scored once
        progress = await pilot_progress(session, pilot, lite.settings.zone)
    with use_locale("zh_CN"):
        words = [goal_in_words(goal) for goal in progress.goals]
    assert words[0].startswith("审批效率提升 30% ") and words[0].endswith("目标 下降 ≥ 30%")
    assert words[1].startswith("报销审批线上化率 ") and words[1].endswith("目标 ≥ 90%")
