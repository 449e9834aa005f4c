"""A small company on PostgreSQL or SQLite, served by the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from points.org.models import Role
from tests.support.factories import make_department, make_employee
from tests.support.operations import Company
from tests.support.services import Store
from web.app import create_app


@pytest.fixture(params=["pg", "lite"])
def store(request: pytest.FixtureRequest) -> Store:
    """The same scenario on PostgreSQL and on the embedded SQLite default."""
    found: Store = request.getfixturevalue(request.param)
    return found


@pytest.fixture
async def company(store: Store) -> Company:
    async with store.db.session() as session:
        sales = await make_department(session, "销售部")
        east = await make_department(session, "华东区", parent=sales)
        fin = await make_department(session, "财务部")
        employee = await make_employee(session, east, userid="zhangsan", name="张三")
        colleague = await make_employee(session, east, userid="lisi", name="李四")
        head = await make_employee(session, sales, userid="wangwu", name="王五", role=Role.head)
        hr = await make_employee(session, fin, userid="zhaoliu", name="赵六", role=Role.hr)
        hr2 = await make_employee(session, fin, userid="qianba", name="钱八", role=Role.hr)
        finance = await make_employee(session, fin, userid="caiwu", name="蔡武", role=Role.finance)
        admin = await make_employee(session, fin, userid="sunqi", name="孙七", role=Role.admin)
        await session.commit()
    return Company(sales, east, fin, employee, colleague, head, hr, hr2, finance, admin)


@pytest.fixture
async def served(store: Store) -> AsyncIterator[Starlette]:
    application = create_app(store.settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def web(served: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=served, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
