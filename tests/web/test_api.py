from __future__ import annotations

import httpx

from points.org.models import Role
from tests.support.factories import make_token
from tests.support.org import Org
from tests.support.services import Store


async def _token(pg: Store, role: Role, userid: str | None = None) -> dict[str, str]:
    async with pg.db.session() as session:
        token = await make_token(session, role, userid)
        await session.commit()
    return {"Authorization": f"Bearer {token}"}


async def test_missing_and_malformed_tokens_get_401_json(client: httpx.AsyncClient) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer wcp_" + "x" * 40},
    ):
        response = await client.get("/api/v1/employees", headers=headers)
        assert response.status_code == 401
        body = response.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}


async def test_hr_token_lists_everyone_and_a_head_token_its_subtree(
    client: httpx.AsyncClient, org: Org, pg: Store
) -> None:
    hr = await _token(pg, Role.hr)
    everyone = (await client.get("/api/v1/employees", headers=hr)).json()
    assert everyone["total"] == 6
    head = await _token(pg, Role.head, org.head.userid)
    subtree = (await client.get("/api/v1/employees", headers=head)).json()
    assert sorted(e["userid"] for e in subtree["items"]) == ["lisi", "wangwu", "zhangsan"]
    denied = await client.get(f"/api/v1/employees?department={org.finance.id}", headers=head)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "forbidden"


async def test_an_employee_token_sees_only_its_person(
    client: httpx.AsyncClient, org: Org, pg: Store
) -> None:
    mine = await _token(pg, Role.employee, org.employee.userid)
    assert (await client.get("/api/v1/employees/zhangsan", headers=mine)).status_code == 200
    assert (await client.get("/api/v1/employees/lisi", headers=mine)).status_code == 403
    assert (await client.get("/api/v1/employees", headers=mine)).status_code == 403
    missing = await client.get("/api/v1/employees/ghost", headers=mine)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_bad_paging_is_a_clear_422(client: httpx.AsyncClient, org: Org, pg: Store) -> None:
    hr = await _token(pg, Role.hr)
    response = await client.get("/api/v1/employees?limit=5000", headers=hr)
    assert response.status_code == 422
    assert "limit" in response.json()["error"]["message"]
