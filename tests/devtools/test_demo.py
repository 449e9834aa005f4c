from __future__ import annotations

from sqlmodel import col, func, select

from points.devtools.demo.company import build_company
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
