"""The rewards REST API: catalogue, requests with Idempotency-Key, transitions."""

from __future__ import annotations

import httpx

from points.org.models import Role
from tests.support.factories import make_token
from tests.support.rewards import Shop, make_reward
from tests.support.services import Store


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


async def test_catalogue_and_only_hr_adds_rewards(
    pg: Store, shop: Shop, client: httpx.AsyncClient
) -> None:
    async with pg.db.session() as session:
        employee = await make_token(session, Role.employee, "zhangsan")
        hr = await make_token(session, Role.hr)
        await session.commit()
    body = {"name": "图书卡", "name_en": "Book card", "price": 120, "stock": 10}
    refused = await client.post("/api/v1/rewards", json=body, headers=bearer(employee))
    assert refused.status_code == 403
    created = await client.post("/api/v1/rewards", json=body, headers=bearer(hr))
    assert created.status_code == 201, created.text
    assert created.json()["price"] == 120
    bad = await client.post("/api/v1/rewards", json={"name": "x", "price": 0}, headers=bearer(hr))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid"
    listing = await client.get("/api/v1/rewards", headers=bearer(employee))
    [item] = listing.json()["items"]
    assert (item["name"], item["affordable"], item["shortfall"]) == ("图书卡", False, 20)


async def test_idempotency_key_and_the_whole_workflow(
    pg: Store, shop: Shop, client: httpx.AsyncClient
) -> None:
    async with pg.db.session() as session:
        lunch = await make_reward(session, name="午餐券", price=20, approver="hr")
        employee = await make_token(session, Role.employee, "zhangsan")
        hr = await make_token(session, Role.hr, "zhaoliu")
        await session.commit()
    headers = bearer(employee, **{"Idempotency-Key": "req-1"})
    first = await client.post("/api/v1/redemptions", json={"reward_id": lunch.id}, headers=headers)
    again = await client.post("/api/v1/redemptions", json={"reward_id": lunch.id}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    redemption_id = first.json()["id"]
    assert first.json()["status"] == "awaiting_approval"
    # An employee may not act for someone else, nor approve.
    on_behalf = await client.post(
        "/api/v1/redemptions",
        json={"reward_id": lunch.id, "employee": "lisi"},
        headers=bearer(employee),
    )
    assert on_behalf.status_code == 403
    approve = await client.post(
        f"/api/v1/redemptions/{redemption_id}/approve", headers=bearer(employee)
    )
    assert approve.status_code == 403
    approve = await client.post(f"/api/v1/redemptions/{redemption_id}/approve", headers=bearer(hr))
    assert approve.json()["status"] == "awaiting_fulfilment"
    fulfil = await client.post(f"/api/v1/redemptions/{redemption_id}/fulfil", headers=bearer(hr))
    assert fulfil.json()["status"] == "fulfilled"
    late = await client.post(
        f"/api/v1/redemptions/{redemption_id}/cancel", headers=bearer(employee)
    )
    assert late.status_code == 409
    # HR on someone's behalf, then a decline with a reason.
    other = await client.post(
        "/api/v1/redemptions", json={"reward_id": lunch.id, "employee": "lisi"}, headers=bearer(hr)
    )
    assert other.status_code == 201
    no_reason = await client.post(
        f"/api/v1/redemptions/{other.json()['id']}/decline", json={}, headers=bearer(hr)
    )
    assert no_reason.status_code == 422
    declined = await client.post(
        f"/api/v1/redemptions/{other.json()['id']}/decline",
        json={"reason": "预算用完"},
        headers=bearer(hr),
    )
    assert declined.json()["status"] == "declined"
    assert declined.json()["reason"] == "预算用完"


async def test_a_refusal_is_a_clear_json_error(
    pg: Store, shop: Shop, client: httpx.AsyncClient
) -> None:
    async with pg.db.session() as session:
        leave = await make_reward(
            session, name="带薪休假半天", price=500, fulfilment="leave", leave_hours=4
        )
        employee = await make_token(session, Role.employee, "zhangsan")
        await session.commit()
    response = await client.post(
        "/api/v1/redemptions", json={"reward_id": leave.id}, headers=bearer(employee)
    )
    assert response.status_code == 409
    assert response.json() == {
        "error": {"code": "insufficient_points", "message": "余额不足，还差 400 分"}
    }
