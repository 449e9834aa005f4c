"""The working-day calendar page: HR only, mistakes said in the reader's language."""

from __future__ import annotations

import httpx

from tests.support.factories import csrf_from, login
from tests.support.org import Org


async def test_hr_imports_adds_and_removes_days(client: httpx.AsyncClient, org: Org) -> None:
    await login(client, org.hr.userid)
    page = await client.get("/rules/calendar?year=2026")
    assert page.status_code == 200 and 'data-testid="calendar-empty"' in page.text
    assert 'data-testid="next-year-missing"' in page.text
    token = csrf_from(page.text)
    bad = await client.post(
        "/rules/calendar?year=2026",
        data={"csrf_token": token, "action": "import", "calendar": "2026-10-01,休\nnot,a,day\n"},
    )
    assert bad.status_code == 422
    assert "第 2 行" in bad.text and "not,a,day" in bad.text
    done = await client.post(
        "/rules/calendar?year=2026",
        data={"csrf_token": token, "action": "import", "calendar": "2026-10-01,休,国庆节\n"},
    )
    assert done.status_code == 303 and "done=calendar_imported" in done.headers["location"]
    added = await client.post(
        "/rules/calendar?year=2026",
        data={"csrf_token": token, "action": "add", "day": "2026-10-10", "kind": "work"},
    )
    assert added.status_code == 303
    page = await client.get("/rules/calendar?year=2026")
    assert 'data-day="2026-10-01" data-kind="off"' in page.text
    assert 'data-day="2026-10-10" data-kind="work"' in page.text
    gone = await client.post(
        "/rules/calendar?year=2026",
        data={"csrf_token": token, "action": "remove", "day": "2026-10-10"},
    )
    assert gone.status_code == 303
    assert 'data-day="2026-10-10"' not in (await client.get("/rules/calendar?year=2026")).text


async def test_bad_input_is_a_clear_4xx_in_english_too(client: httpx.AsyncClient, org: Org) -> None:
    await login(client, org.hr.userid)
    client.cookies.set("points_lang", "en")
    page = await client.get("/rules/calendar")
    token = csrf_from(page.text)
    for data, said in (
        ({"action": "add", "day": "2026-02-30", "kind": "off"}, "Give a date like 2026-10-01."),
        ({"action": "add", "day": "2026-10-01", "kind": "holiday"}, "Choose what to do"),
        ({"action": "import", "calendar": ""}, "Paste or choose a calendar"),
        ({"action": "import", "calendar": "{"}, "This is not valid JSON."),
    ):
        answer = await client.post("/rules/calendar", data={"csrf_token": token, **data})
        assert answer.status_code == 422 and said in answer.text, data
    assert (await client.get("/rules/calendar?year=1900")).status_code == 422
    assert (await client.get("/rules/calendar?year=abc")).status_code == 422


async def test_only_people_who_manage_rules_see_it(client: httpx.AsyncClient, org: Org) -> None:
    await login(client, org.employee.userid)
    assert (await client.get("/rules/calendar")).status_code == 403
