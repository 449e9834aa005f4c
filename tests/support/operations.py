"""The operations tests' company (every role, finance included) and their clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from starlette.applications import Starlette

from points.org.models import Department, Employee
from tests.support.factories import login


@dataclass
class Company:
    sales: Department
    east: Department
    finance_dept: Department
    employee: Employee
    colleague: Employee
    head: Employee
    hr: Employee
    hr2: Employee
    finance: Employee
    admin: Employee


@asynccontextmanager
async def browser(app: Starlette, userid: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await login(client, userid)
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
