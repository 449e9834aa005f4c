"""Review before award on the web: the queue page, its forms, the API, the person's view."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from points.org.models import Role
from tests.support.events import SHANGHAI, event, send
from tests.support.factories import csrf_from, login, make_token
from tests.support.reviews import available, ledger_lines, reviewed_company
from tests.support.services import Store

NOW = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(hours=1)


async def _one_case(pg: Store) -> None:
    sent = await send(
        pg,
        [event("case:1", "approval.submitted", "zhangsan", NOW, template="案例", sp_no="c1")],
    )
    assert sent == ["created"]


async def test_hr_accepts_on_the_queue_page_and_the_person_sees_it_move(
    pg: Store, client: httpx.AsyncClient
) -> None:
    company = await reviewed_company(pg)
    await _one_case(pg)
    await login(client, "zhangsan")
    home = (await client.get("/")).text
    assert "待审核" in home and "最佳实践案例" in home
    assert "20 分等待审核" in home
    history = (await client.get("/history")).text
    assert "待审核" in history
    await login(client, "zhaoliu")
    queue = await client.get("/reviews")
    assert queue.status_code == 200 and "张三" in queue.text and "最佳实践案例" in queue.text
    award_id = queue.text.split('action="/reviews/')[1].split("/")[0]
    form = {"csrf_token": csrf_from(queue.text)}
    first = await client.post(f"/reviews/{award_id}/accept", data=form)
    assert first.status_code == 303 and "award_accepted" in first.headers["location"]
    second = await client.post(f"/reviews/{award_id}/accept", data=form)  # a double post
    assert second.status_code == 303
    async with pg.db.session() as session:
        assert await available(session, company.zhang) == 20
        assert await ledger_lines(session) == 1
    assert "没有待审核的积分" in (await client.get("/reviews")).text
    await login(client, "zhangsan")
    home = (await client.get("/")).text
    assert "待审核" not in home


async def test_the_api_lists_and_decides_with_separation_of_duties(
    pg: Store, client: httpx.AsyncClient
) -> None:
    company = await reviewed_company(pg)
    await _one_case(pg)
    async with pg.db.session() as session:
        hr = await make_token(session, Role.hr, company.hr.userid)
        employee = await make_token(session, Role.employee, company.zhang.userid)
        own = await make_token(session, Role.hr, company.zhang.userid)  # HR token of the earner
        await session.commit()

    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    listed = await client.get("/api/v1/reviews", headers=auth(hr))
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert (item["userid"], item["points"], item["status"]) == ("zhangsan", 20, "pending")
    assert (await client.get("/api/v1/reviews", headers=auth(employee))).status_code == 403
    path = f"/api/v1/reviews/{item['id']}"
    refused = await client.post(f"{path}/accept", json={}, headers=auth(own))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "own_award"
    bad = await client.post(f"{path}/reject", json={"why": "x"}, headers=auth(hr))
    assert bad.status_code == 422
    rejected = await client.post(f"{path}/reject", json={"reason": "不符合"}, headers=auth(hr))
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    late = await client.post(f"{path}/accept", json={}, headers=auth(hr))
    assert late.status_code == 409
    assert (await client.post(f"{path}/approve", json={}, headers=auth(hr))).status_code == 404
    async with pg.db.session() as session:
        assert await available(session, company.zhang) == 0
