"""A person's page: heads open their own team's people; HR adjusts, with errors said inline."""

from __future__ import annotations

import httpx

from tests.support.factories import csrf_from, login
from tests.support.org import Org


async def test_a_head_opens_a_team_member_but_not_others_and_cannot_adjust(
    client: httpx.AsyncClient, org: Org
) -> None:
    await login(client, org.head.userid)
    member = await client.get(f"/people/{org.employee.userid}")
    assert member.status_code == 200
    assert org.employee.name in member.text and "积分明细" in member.text
    assert 'name="points"' not in member.text  # no adjustment form for heads
    outsider = await client.get(f"/people/{org.outsider.userid}")
    assert outsider.status_code == 403
    refused = await client.post(
        f"/people/{org.employee.userid}",
        data={"points": "5", "reason": "x", "csrf_token": csrf_from(member.text)},
    )
    assert refused.status_code == 403
    # The member list links to each person's page.
    department = await client.get("/department")
    assert f'href="/people/{org.employee.userid}"' in department.text


async def test_an_adjustment_error_is_said_next_to_the_form_keeping_what_was_typed(
    client: httpx.AsyncClient, org: Org
) -> None:
    await login(client, org.hr.userid)
    page = await client.get(f"/people/{org.employee.userid}")
    response = await client.post(
        f"/people/{org.employee.userid}",
        data={
            "points": "-500",
            "reason": "扣回误发的积分",
            "request_key": "k1",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert response.status_code == 422
    assert 'data-testid="form-error"' in response.text
    assert 'value="-500"' in response.text and 'value="扣回误发的积分"' in response.text
    assert "<h1>张三</h1>" in response.text  # the page, not an error page
    saved = await client.post(
        f"/people/{org.employee.userid}",
        data={
            "points": "8",
            "reason": "活动奖励",
            "request_key": "k2",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("?done=adjusted")
    shown = await client.get(saved.headers["location"])
    assert "调整已保存，员工会看到你填写的原因。" in shown.text
