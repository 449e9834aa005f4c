"""The integrity queue over HTTP: HR and admins only, the contract's shape, a review with
a note (a clear 422 without one, in the reader's language), an adjustment opened with
its reason filled in."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import unquote_plus

import httpx

from points.db import utcnow
from points.org.models import Role
from tests.support.factories import csrf_from, login, make_token
from tests.support.integrity import approvals, days_before, decided, scan_at, send_all, shares
from tests.support.org import Org
from tests.support.services import Store


async def _bearer(pg: Store, role: Role, userid: str | None = None) -> dict[str, str]:
    async with pg.db.session() as session:
        token = await make_token(session, role, userid)
        await session.commit()
    return {"Authorization": f"Bearer {token}"}


async def _flag_the_colleague(pg: Store) -> None:
    """李四 (lisi) opens the app ten times more than ever on one day."""
    today = utcnow().astimezone(pg.settings.zone).date()
    days = days_before(today - timedelta(days=1), 27)
    ordinary = [e for d in days for e in shares("lisi", d, 2, kind="app.entered", start_hour=9)]
    burst = shares("lisi", today, 60, kind="app.entered", start_hour=9, hours=1)
    await send_all(pg, ordinary + burst)
    await scan_at(pg, today)


async def test_only_hr_and_admins_see_the_flags(
    client: httpx.AsyncClient, org: Org, pg: Store
) -> None:
    await _flag_the_colleague(pg)
    for role, userid in (
        (Role.employee, org.employee.userid),
        (Role.head, org.head.userid),
        (Role.finance, org.outsider.userid),
    ):
        refused = await client.get(
            "/api/v1/integrity/flags", headers=await _bearer(pg, role, userid)
        )
        assert refused.status_code == 403, role
    for role, userid in ((Role.hr, org.hr.userid), (Role.admin, org.admin.userid)):
        answer = await client.get(
            "/api/v1/integrity/flags", headers=await _bearer(pg, role, userid)
        )
        assert answer.status_code == 200
        [item] = answer.json()["items"]
        assert {"userid", "pattern", "evidence", "since", "status"} <= set(item)
        assert (item["userid"], item["pattern"], item["status"]) == ("lisi", "burst", "open")
        assert item["evidence"]["peak"] == 60 and item["events_url"].startswith("/integrity/")
    bad = await client.get(
        "/api/v1/integrity/flags?status=closed", headers=await _bearer(pg, Role.hr, org.hr.userid)
    )
    assert bad.status_code == 422 and bad.json()["error"]["message"]


async def test_hr_reviews_a_flag_with_a_note(
    client: httpx.AsyncClient, org: Org, pg: Store
) -> None:
    await _flag_the_colleague(pg)
    await login(client, org.hr.userid)
    queue = await client.get("/integrity")
    assert queue.status_code == 200 and "李四" in queue.text and "远超本人平时的突增" in queue.text
    detail_path = "/integrity/1"
    detail = await client.get(detail_path)
    assert "单日最多 60 次进入应用" in detail.text
    csrf = csrf_from(detail.text)

    empty = await client.post(f"{detail_path}/review", data={"csrf_token": csrf, "note": " "})
    assert empty.status_code == 422 and "请填写备注" in empty.text

    done = await client.post(
        f"{detail_path}/review", data={"csrf_token": csrf, "note": "培训日，正常"}
    )
    assert done.status_code == 303
    reviewed = await client.get(done.headers["location"])
    assert "已标记为已复核" in reviewed.text and "培训日，正常" in reviewed.text
    api = await client.get(
        "/api/v1/integrity/flags?status=reviewed", headers=await _bearer(pg, Role.hr, org.hr.userid)
    )
    assert [i["review_note"] for i in api.json()["items"]] == ["培训日，正常"]


async def test_an_adjustment_opens_with_its_reason(
    client: httpx.AsyncClient, org: Org, pg: Store
) -> None:
    await _flag_the_colleague(pg)
    await login(client, org.hr.userid)
    detail = await client.get("/integrity/1")
    link = next(
        part.split('"')[1]
        for part in detail.text.split("href=")
        if part.startswith('"/people/lisi')
    )
    person = await client.get(link.replace("&amp;", "&"))
    assert person.status_code == 200
    assert 'value="积分异常复核 #1：远超本人平时的突增"' in unquote_plus(person.text)


async def test_a_head_is_refused_the_pages(client: httpx.AsyncClient, org: Org, pg: Store) -> None:
    await login(client, org.head.userid)
    assert (await client.get("/integrity")).status_code == 403


async def test_every_kind_of_flag_has_a_working_page(
    client: httpx.AsyncClient, org: Org, pg: Store
) -> None:
    today = utcnow().astimezone(pg.settings.zone).date()
    workdays = [d for d in days_before(today, 14) if d.isoweekday() <= 5][-5:]
    capper = [e for d in workdays for e in approvals("zhangsan", d, 5)]
    pair = decided("zhangsan", "lisi", 6, "zl", today) + decided("lisi", "zhangsan", 6, "lz", today)
    base = days_before(today - timedelta(days=7), 21)
    owl = [e for d in base for e in shares("wangwu", d, 2, kind="app.entered", start_hour=10)]
    owl += [
        e
        for d in days_before(today - timedelta(days=1), 6)
        for e in shares("wangwu", d, 2, kind="app.entered", start_hour=23, hours=1)
    ]
    await send_all(pg, capper + pair + owl)
    await _flag_the_colleague(pg)
    await login(client, org.hr.userid)
    api = await client.get("/api/v1/integrity/flags", headers=await _bearer(pg, Role.hr))
    items = api.json()["items"]
    assert {i["pattern"] for i in items} == {"cap_streak", "burst", "odd_hours", "mutual_approvals"}
    for item in items:
        page = await client.get(item["events_url"].split("#")[0])
        assert page.status_code == 200, item
        assert 'id="events"' in page.text and "events-empty" not in page.text
