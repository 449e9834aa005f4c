"""Appeals end to end: filed by page and API, resolved with +5 and rejected, told, linked."""

from __future__ import annotations

import re

import httpx
from sqlmodel import col, select
from starlette.applications import Starlette

from points.appeals.models import Appeal
from points.audit.models import AuditEntry
from points.ledger.adjustments import adjust
from points.ledger.models import LedgerTransaction, TransactionKind
from points.ledger.reconcile import reconcile
from points.notifications.models import Notification
from points.org.models import Role
from tests.support.factories import csrf_from, make_token
from tests.support.operations import Company, bearer, browser
from tests.support.services import Store


async def test_appeals_filed_answered_told_and_linked(
    store: Store, company: Company, served: Starlette, web: httpx.AsyncClient
) -> None:
    async with store.db.session() as session:
        await adjust(
            session,
            store.settings,
            userid="zhangsan",
            points=3,
            reason="会议积分",
            author="zhaoliu",
            request_key="seed-1",
        )
        entry = (await session.exec(select(LedgerTransaction))).one()
        tokens = {
            "employee": await make_token(session, Role.employee, "zhangsan"),
            "colleague": await make_token(session, Role.employee, "lisi"),
            "head": await make_token(session, Role.head, "wangwu"),
            "hr": await make_token(session, Role.hr, "zhaoliu"),
        }
        await session.commit()

    # 1. The employee files one from a history line, through the page.
    async with browser(served, "zhangsan") as me:
        history = await me.get("/history")
        assert f"/appeals/new?entry={entry.id}" in history.text
        form = await me.get(f"/appeals/new?entry={entry.id}")
        assert "会议积分" in form.text
        filed = await me.post(
            "/appeals/new",
            data={
                "csrf_token": csrf_from(form.text),
                "entry_id": str(entry.id),
                "message": "这次会议我是发起人，应该是 8 分",
            },
        )
        assert filed.status_code == 303
        page_id = int(filed.headers["location"].split("/")[2].split("?")[0])
        # An empty message is a clear 422 in Chinese, and nothing is stored.
        empty = await me.post(
            "/appeals/new", data={"csrf_token": csrf_from(form.text), "message": "  "}
        )
        assert empty.status_code == 422
        assert "请说明你认为哪里有问题。" in empty.text

    # 2. ...and one about a day with nothing, through the API.
    api_filed = await web.post(
        "/api/v1/appeals",
        json={
            "message": "11 月 20 日提交了报销审批，没有积分",
            "entry_id": None,
            "occurred_on": "2026-11-20",
        },
        headers=bearer(tokens["employee"]),
    )
    assert api_filed.status_code == 201, api_filed.text
    assert api_filed.json()["status"] == "open"
    api_id = api_filed.json()["id"]
    bad = await web.post(
        "/api/v1/appeals",
        json={"message": "x", "occurred_on": "20-11-2026"},
        headers=bearer(tokens["employee"]),
    )
    assert bad.status_code == 422

    # Another employee: 404 on it, and sees none in the list.
    other = await web.get(f"/api/v1/appeals/{api_id}", headers=bearer(tokens["colleague"]))
    assert other.status_code == 404
    listed = await web.get("/api/v1/appeals", headers=bearer(tokens["colleague"]))
    assert listed.json()["items"] == []

    # The head sees the department's appeals, read-only.
    head_list = await web.get("/api/v1/appeals?status=open", headers=bearer(tokens["head"]))
    assert {a["id"] for a in head_list.json()["items"]} == {page_id, api_id}
    head_try = await web.post(
        f"/api/v1/appeals/{page_id}/resolve",
        json={"points": 5, "reason": "ok"},
        headers=bearer(tokens["head"]),
    )
    assert head_try.status_code == 403

    # 3. HR resolves one with +5 and rejects the other.
    resolved = await web.post(
        f"/api/v1/appeals/{page_id}/resolve",
        json={"points": 5, "reason": "发起人另加 5 分"},
        headers=bearer(tokens["hr"]),
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved"
    transaction_id = resolved.json()["transaction_id"]
    assert transaction_id
    again = await web.post(
        f"/api/v1/appeals/{page_id}/resolve",
        json={"points": 5, "reason": "again"},
        headers=bearer(tokens["hr"]),
    )
    assert again.status_code == 409
    async with browser(served, "zhaoliu") as hr:
        queue = await hr.get("/appeals?status=open")
        assert f"/appeals/{api_id}" in queue.text
        detail = await hr.get(f"/appeals/{api_id}")
        assert "2026-11-20" in detail.text
        rejected = await hr.post(
            f"/appeals/{api_id}/reject",
            data={"csrf_token": csrf_from(detail.text), "reason": "当天的审批是补交的，不算按时"},
        )
        assert rejected.status_code == 303

    # 4. The adjustment links to the appeal and counts once; the ledger reconciles.
    async with store.db.session() as session:
        answer = await session.get(LedgerTransaction, transaction_id)
        assert answer is not None
        assert answer.kind == TransactionKind.adjustment
        assert answer.points == 5
        assert answer.key == f"adjust:appeal:{page_id}"
        assert answer.author.startswith("token:") or answer.author == "zhaoliu"
        appeals = {a.id: a for a in (await session.exec(select(Appeal))).all()}
        assert appeals[page_id].transaction_id == transaction_id
        assert appeals[api_id].status == "rejected"
        assert appeals[api_id].transaction_id is None
        told = (
            await session.exec(select(Notification.kind).where(Notification.userid == "zhangsan"))
        ).all()
        assert sorted(told) == ["appeal.rejected", "appeal.resolved"]
        actions = (
            await session.exec(
                select(AuditEntry.action).where(col(AuditEntry.action).startswith("appeal."))
            )
        ).all()
        assert sorted(actions) == [
            "appeal.file",
            "appeal.file",
            "appeal.reject",
            "appeal.resolve",
        ]
        report = await reconcile(session, store.settings.zone)
        assert report.clean, report.problems

    # 5. The employee sees both outcomes, at home and in the history.
    async with browser(served, "zhangsan") as me:
        home = await me.get("/")
        assert "+5" in home.text
        assert "当天的审批是补交的，不算按时" in home.text
        history = await me.get("/history")
        assert re.search(rf'href="/appeals/{page_id}" data-testid="appeal-answer"', history.text)
        mine = await web.get(f"/api/v1/appeals/{page_id}", headers=bearer(tokens["employee"]))
        assert mine.json()["points"] == 5


async def test_nobody_resolves_their_own_appeal(
    store: Store, company: Company, web: httpx.AsyncClient
) -> None:
    async with store.db.session() as session:
        hr_token = await make_token(session, Role.hr, "zhaoliu")
        other_hr = await make_token(session, Role.hr, "qianba")
        await session.commit()
    own = await web.post(
        "/api/v1/appeals",
        json={"message": "我的培训积分没有到账", "entry_id": None, "occurred_on": None},
        headers=bearer(hr_token),
    )
    assert own.status_code == 201
    appeal_id = own.json()["id"]
    refused = await web.post(
        f"/api/v1/appeals/{appeal_id}/resolve",
        json={"points": 50, "reason": "给自己加分"},
        headers=bearer(hr_token),
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "own_appeal"
    accepted = await web.post(
        f"/api/v1/appeals/{appeal_id}/reject",
        json={"reason": "培训记录里没有这一次"},
        headers=bearer(other_hr),
    )
    assert accepted.status_code == 200
    async with store.db.session() as session:
        entries = (await session.exec(select(LedgerTransaction))).all()
        assert entries == []


async def test_overdue_appeals_show_with_an_sla(store: Store, company: Company) -> None:
    from datetime import timedelta

    from points.appeals.service import is_overdue
    from points.db import utcnow

    settings = store.settings.model_copy(update={"APPEAL_SLA_DAYS": 2})
    appeal = Appeal(
        employee_id=1, department_id=1, message="x", created_at=utcnow() - timedelta(days=3)
    )
    fresh = Appeal(employee_id=1, department_id=1, message="x", created_at=utcnow())
    assert is_overdue(appeal, settings)
    assert not is_overdue(fresh, settings)
    assert not is_overdue(appeal, store.settings)  # no SLA set: never overdue
