"""Paid leave asks for its day off: checked, kept, and shown to the head who approves."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import httpx
import pytest

from points.errors import InvalidInput
from points.i18n import use_locale
from points.org.models import Role
from points.rewards import policy, redeem
from points.rewards.models import Redemption
from tests.support.factories import csrf_from, login, make_token
from tests.support.rewards import Shop, make_reward
from tests.support.services import Store


def today(store: Store) -> date:
    return datetime.now(store.settings.zone).date()


async def ask(store: Store, reward_id: int, employee_id: int, day: date | None) -> Redemption:
    async with store.db.session() as session:
        result = await redeem.request_redemption(
            session,
            store.settings,
            reward_id=reward_id,
            employee_id=employee_id,
            actor=policy.SYSTEM,
            leave_date=day,
        )
        await session.commit()
        return result.redemption


@pytest.mark.parametrize(
    ("offset", "message"),
    [
        (None, "请选择休假日期。"),
        (-1, "休假日期不能早于今天。"),
        (367, "休假日期须在今天起一年之内。"),
    ],
)
async def test_a_day_of_leave_must_be_given_and_possible(
    pg: Store, shop: Shop, offset: int | None, message: str
) -> None:
    assert shop.employee.id
    async with pg.db.session() as session:
        leave = await make_reward(
            session, name="带薪休假半天", price=50, fulfilment="leave", leave_hours=4
        )
        await session.commit()
    assert leave.id
    day = None if offset is None else today(pg) + timedelta(days=offset)
    with use_locale("zh_CN"), pytest.raises(InvalidInput) as caught:
        await ask(pg, leave.id, shop.employee.id, day)
    assert (caught.value.message, caught.value.code) == (message, "leave_date")
    kept = await ask(pg, leave.id, shop.employee.id, today(pg))
    assert kept.leave_date == today(pg)


async def test_other_rewards_keep_no_leave_date(pg: Store, shop: Shop) -> None:
    assert shop.employee.id
    async with pg.db.session() as session:
        coffee = await make_reward(session, price=30)
        await session.commit()
    assert coffee.id
    asked = await ask(pg, coffee.id, shop.employee.id, date(9999, 12, 31))
    assert asked.leave_date is None


async def test_the_form_keeps_a_wrong_day_and_says_why_then_the_head_sees_the_day(
    pg: Store, shop: Shop, client: httpx.AsyncClient
) -> None:
    async with pg.db.session() as session:
        leave = await make_reward(
            session, name="带薪休假半天", price=50, fulfilment="leave", leave_hours=4
        )
        await session.commit()
    await login(client, "zhangsan")
    confirm = await client.get(f"/rewards/{leave.id}/redeem")
    assert 'name="leave_date"' in confirm.text and f'min="{today(pg).isoformat()}"' in confirm.text
    nonce = re.search(r'name="nonce" value="([^"]+)"', confirm.text)
    assert nonce
    form = {"csrf_token": csrf_from(confirm.text), "nonce": nonce.group(1)}
    for typed, says in [
        ("9999-12-31", "休假日期须在今天起一年之内。"),
        ("2020-01-01", "休假日期不能早于今天。"),
        ("明天", "请选择休假日期。"),
        ("", "请选择休假日期。"),
    ]:
        wrong = await client.post(f"/rewards/{leave.id}/redeem", data={**form, "leave_date": typed})
        assert wrong.status_code == 422, typed
        assert says in wrong.text
        assert f'value="{typed}"' in wrong.text  # what was typed is kept
    day = today(pg) + timedelta(days=3)
    done = await client.post(
        f"/rewards/{leave.id}/redeem", data={**form, "leave_date": day.isoformat()}
    )
    assert done.status_code == 303
    mine = await client.get(done.headers["location"])
    assert f"休假日期：{day.isoformat()}" in mine.text

    await login(client, "wangwu")
    queue = await client.get("/approvals")
    assert f"休假日期：{day.isoformat()}" in queue.text
    assert "扣除本次后剩余 50 积分" in queue.text  # with the balance beside it


async def test_the_api_takes_the_day_and_refuses_an_impossible_one(
    pg: Store, shop: Shop, client: httpx.AsyncClient
) -> None:
    async with pg.db.session() as session:
        token = await make_token(session, Role.employee, "zhangsan")
        leave = await make_reward(
            session, name="带薪休假半天", price=50, fulfilment="leave", leave_hours=4
        )
        await session.commit()
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "zh-CN"}
    body = {"reward_id": leave.id, "leave_date": "9999-12-31"}
    refused = await client.post("/api/v1/redemptions", json=body, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "leave_date"
    day = (today(pg) + timedelta(days=1)).isoformat()
    made = await client.post(
        "/api/v1/redemptions", json={**body, "leave_date": day}, headers=headers
    )
    assert made.status_code == 201, made.text
    assert made.json()["leave_date"] == day
