from __future__ import annotations

from dataclasses import dataclass

import pytest

from points.org.models import Department, Employee, Role
from tests.support.factories import make_department, make_employee
from tests.support.services import Store


@dataclass
class Org:
    sales: Department
    east: Department
    finance: Department
    employee: Employee
    colleague: Employee
    head: Employee
    hr: Employee
    admin: Employee
    outsider: Employee


@pytest.fixture
async def org(pg: Store) -> Org:
    """A small company: 销售部 (with 华东区 below it) and 财务部, one person per role."""
    async with pg.db.session() as session:
        sales = await make_department(session, "销售部")
        east = await make_department(session, "华东区", parent=sales)
        finance = await make_department(session, "财务部")
        employee = await make_employee(session, east, userid="zhangsan", name="张三")
        colleague = await make_employee(session, east, userid="lisi", name="李四")
        head = await make_employee(session, sales, userid="wangwu", name="王五", role=Role.head)
        hr = await make_employee(session, finance, userid="zhaoliu", name="赵六", role=Role.hr)
        admin = await make_employee(session, finance, userid="sunqi", name="孙七", role=Role.admin)
        outsider = await make_employee(session, finance, userid="zhouba", name="周八")
        await session.commit()
    return Org(sales, east, finance, employee, colleague, head, hr, admin, outsider)
