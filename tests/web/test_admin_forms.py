"""Admin forms: a person is picked by name; mistakes are said in place, nothing changes."""

from __future__ import annotations

import httpx
from sqlmodel import func, select

from points.org.models import RoleAssignment
from tests.support.factories import csrf_from, login
from tests.support.org import Org
from tests.support.services import Store


async def _assignments(pg: Store) -> int:
    async with pg.db.session() as session:
        return int((await session.exec(select(func.count()).select_from(RoleAssignment))).one())


async def test_picking_a_person_by_name_and_grant_mistakes_said_in_chinese(
    client: httpx.AsyncClient, org: Org, pg: Store
) -> None:
    await login(client, org.admin.userid)
    page = await client.get("/admin/roles")
    picks = await client.get("/admin/people", params={"person_q": "李"})
    assert 'value="lisi"' in picks.text and "李四" in picks.text
    before = await _assignments(pg)
    unknown = await client.post(
        "/admin/roles",
        data={"csrf_token": csrf_from(page.text), "userid": "nobody", "role": "hr"},
    )
    assert unknown.status_code == 422
    assert "请从列表中选择一个人" in unknown.text and "department head" not in unknown.text
    headless = await client.post(
        "/admin/roles",
        data={"csrf_token": csrf_from(page.text), "userid": "lisi", "role": "head"},
    )
    assert headless.status_code == 422
    assert "主管需要选择其负责的部门" in headless.text
    assert 'value="lisi" checked' in headless.text  # the person picked stays picked
    assert await _assignments(pg) == before
    granted = await client.post(
        "/admin/roles",
        data={
            "csrf_token": csrf_from(page.text),
            "userid": "lisi",
            "role": "head",
            "department_id": str(org.east.id),
        },
    )
    assert granted.status_code == 303 and granted.headers["location"].endswith("done=granted")
    assert "角色已授予" in (await client.get(granted.headers["location"])).text


async def test_a_token_without_its_person_is_refused_in_words_of_the_web(
    client: httpx.AsyncClient, org: Org
) -> None:
    await login(client, org.admin.userid)
    page = await client.get("/admin/tokens")
    refused = await client.post(
        "/admin/tokens",
        data={"csrf_token": csrf_from(page.text), "name": "wall-screen", "role": "employee"},
    )
    assert refused.status_code == 422
    assert "请选择一位" in refused.text and "--user" not in refused.text
    assert 'value="wall-screen"' in refused.text
    assert 'data-testid="new-token"' not in refused.text
