"""Finance reads every figure and export, changes nothing, and every export is audited."""

from __future__ import annotations

import httpx
from sqlmodel import col, select
from starlette.applications import Starlette

from points.audit.models import AuditEntry
from points.ledger.adjustments import adjust
from points.org.models import Role
from tests.support.factories import csrf_from, make_token
from tests.support.operations import Company, bearer, browser
from tests.support.services import Store


async def test_finance_exports_the_spend_report_and_changes_nothing(
    store: Store, company: Company, served: Starlette, web: httpx.AsyncClient
) -> None:
    async with store.db.session() as session:
        await adjust(
            session,
            store.settings,
            userid="zhangsan",
            points=100,
            reason="启动奖励",
            author="zhaoliu",
            request_key="seed",
        )
        hr = await make_token(session, Role.hr, "zhaoliu")
        employee = await make_token(session, Role.employee, "zhangsan")
        finance = await make_token(session, Role.finance)
        await session.commit()
    reward = await web.post(
        "/api/v1/rewards",
        json={"name": "咖啡券", "price": 30, "stock": 10, "fulfilment": "manual"},
        headers=bearer(hr),
    )
    assert reward.status_code == 201, reward.text
    reward_id = reward.json()["id"]
    redemption = await web.post(
        "/api/v1/redemptions", json={"reward_id": reward_id}, headers=bearer(employee)
    )
    assert redemption.status_code == 201, redemption.text

    # Reads and exports: the spend report as JSON and CSV.
    report = await web.get("/api/v1/reports/spend", headers=bearer(finance))
    assert report.status_code == 200
    assert [(r["name"], r["pending"], r["held"]) for r in report.json()["items"]] == [
        ("咖啡券", 1, 30)
    ]
    csv = await web.get("/api/v1/reports/spend?format=csv", headers=bearer(finance))
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert "咖啡券" in csv.text
    # Employees may not read it.
    refused = await web.get("/api/v1/reports/spend", headers=bearer(employee))
    assert refused.status_code == 403

    # Changes nothing: rewards, redemptions, appeals, adjustments, rules, roles.
    for method, path, body in (
        ("POST", "/api/v1/rewards", {"name": "假期", "price": 1}),
        ("POST", f"/api/v1/redemptions/{redemption.json()['id']}/fulfil", {}),
        ("POST", "/api/v1/appeals/1/resolve", {"points": 5, "reason": "x"}),
        ("POST", "/api/v1/events", {"external_id": "x", "type": "doc.shared"}),
        ("POST", "/api/v1/employees/zhangsan/adjustments", {"points": 5, "reason": "x"}),
    ):
        answer = await web.request(method, path, json=body, headers=bearer(finance))
        assert answer.status_code == 403, (path, answer.text)

    async with browser(served, "caiwu") as me:
        for path in ("/boards", "/dashboard", "/fulfilment/spend"):
            assert (await me.get(path)).status_code == 200, path
        for path in ("/boards/export.csv", "/dashboard/export.csv", "/fulfilment/spend.csv"):
            answer = await me.get(path)
            assert answer.status_code == 200, path
            assert answer.headers["content-type"].startswith("text/csv")
        page = await me.get("/dashboard")
        token = csrf_from(page.text)
        adjustment = await me.post(
            "/people/zhangsan",
            data={"csrf_token": token, "points": "5", "reason": "x", "request_key": "k1"},
        )
        assert adjustment.status_code == 403
        activation = await me.post(
            "/rules/versions/1/activate", data={"csrf_token": token, "backapply": "none"}
        )
        assert activation.status_code == 403
        for path in ("/rules", "/admin/roles", "/fulfilment", "/fulfilment/catalogue"):
            assert (await me.get(path)).status_code == 403, path
        roles = await me.post(
            "/admin/roles",
            data={"csrf_token": token, "userid": "caiwu", "role": "admin", "action": "grant"},
        )
        assert roles.status_code == 403

    async with store.db.session() as session:
        exports = (
            await session.exec(
                select(AuditEntry.action, AuditEntry.actor).where(
                    col(AuditEntry.action).contains("export")
                )
            )
        ).all()
    # One audit row per export: the API's CSV and the three page downloads.
    assert len(exports) == 4, exports
    assert {actor for _a, actor in exports} >= {"caiwu"}
