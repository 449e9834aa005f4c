"""Small factories: a test builds exactly the world its scenario needs."""

from __future__ import annotations

import itertools
import re

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from points.auth.service import create_token
from points.org import service as org
from points.org.models import Department, Employee, Role

_ids = itertools.count(1000)


async def make_department(
    session: AsyncSession, name: str = "销售部", parent: Department | None = None
) -> Department:
    return await org.upsert_department(
        session, id=next(_ids), name=name, parent_id=parent.id if parent else None
    )


async def make_employee(
    session: AsyncSession,
    department: Department,
    *,
    userid: str | None = None,
    name: str = "张三",
    role: Role | None = None,
    head_of: Department | None = None,
) -> Employee:
    employee = await org.upsert_employee(
        session, userid=userid or f"user{next(_ids)}", name=name, department_id=department.id
    )
    if role is not None and role != Role.employee:
        target = head_of or department
        await org.grant_role(
            session,
            userid=employee.userid,
            role=role,
            department_id=target.id if role == Role.head else None,
        )
    return employee


async def make_token(session: AsyncSession, role: Role, userid: str | None = None) -> str:
    return await create_token(session, name=f"t{next(_ids)}", role=role, userid=userid)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


async def login(client: httpx.AsyncClient, userid: str) -> httpx.Response:
    page = await client.get("/login")
    response = await client.post(
        "/login", data={"userid": userid, "csrf_token": csrf_from(page.text), "next": "/"}
    )
    assert response.status_code == 303, response.text
    return response
