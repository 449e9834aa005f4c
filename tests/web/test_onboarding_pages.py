"""The onboarding page and the checklist on home, through HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlmodel import select

from points.notifications.models import Notification
from points.org.models import Employee, Role
from tests.support.events import SHANGHAI, event, send
from tests.support.factories import csrf_from, login, make_employee
from tests.support.org import Org
from tests.support.services import Store


async def _make_joiner(pg: Store, org: Org, days_ago: int) -> None:
    async with pg.db.session() as session:
        person = await session.get(Employee, org.employee.id)
        assert person is not None
        person.joined_on = datetime.now(SHANGHAI).date() - timedelta(days=days_ago)
        session.add(person)
        await make_employee(session, org.finance, userid="caiwu", name="财务", role=Role.finance)
        await session.commit()


async def test_a_joiner_sees_the_checklist_on_home_and_a_head_nudges_once(
    pg: Store, org: Org, client: httpx.AsyncClient
) -> None:
    await _make_joiner(pg, org, days_ago=9)
    when = datetime.now(SHANGHAI) - timedelta(days=8)
    await send(
        pg,
        [event("sp:9", "approval.submitted", "zhangsan", when, template="报销", sp_no="9")],
    )
    await login(client, "zhangsan")
    home = (await client.get("/")).text
    assert 'data-testid="onboarding"' in home
    assert home.count('data-met="yes"') == 1 and home.count('data-met="no"') == 3

    await login(client, "wangwu")  # the head of 销售部, above 华东区
    their_page = (await client.get("/people/zhangsan")).text
    assert 'data-testid="onboarding"' in their_page and their_page.count('data-met="yes"') == 1
    page = await client.get("/onboarding")
    assert page.status_code == 200
    assert "华东区" in page.text and 'data-stuck="yes"' in page.text
    csrf = csrf_from(page.text)
    first = await client.post("/onboarding/zhangsan/nudge", data={"csrf_token": csrf})
    assert first.status_code == 303 and first.headers["location"] == "/onboarding?done=nudged"
    again = await client.post("/onboarding/zhangsan/nudge", data={"csrf_token": csrf})
    assert again.headers["location"] == "/onboarding?done=nudged_already"
    async with pg.db.session() as session:
        sent = await session.exec(select(Notification).where(Notification.userid == "zhangsan"))
        assert len(sent.all()) == 1

    # Finance reads the page and nudges nobody; a wrong person is a 404, not a 500.
    await login(client, "caiwu")
    assert (await client.get("/onboarding")).status_code == 200
    csrf = csrf_from((await client.get("/onboarding")).text)
    refused = await client.post("/onboarding/zhangsan/nudge", data={"csrf_token": csrf})
    assert refused.status_code == 403
    await login(client, "zhaoliu")
    csrf = csrf_from((await client.get("/onboarding")).text)
    missing = await client.post("/onboarding/nobody/nudge", data={"csrf_token": csrf})
    assert missing.status_code == 404
    veteran = await client.post("/onboarding/lisi/nudge", data={"csrf_token": csrf})
    assert veteran.status_code == 422 and "没有新手任务" in veteran.text
