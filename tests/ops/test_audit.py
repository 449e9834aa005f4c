"""Audit completeness: role changes say from where; API-posted events are audited."""

from __future__ import annotations

import httpx
from sqlmodel import col, select

from points.audit.models import AuditEntry
from points.org.models import Role
from tests.support.factories import csrf_from, login, make_token
from tests.support.operations import Company, bearer
from tests.support.services import Store

AGENT = "Mozilla/5.0 (iPhone) wxwork/4.1"


async def test_role_changes_record_ip_and_user_agent(
    store: Store, company: Company, web: httpx.AsyncClient
) -> None:
    await login(web, "sunqi")
    page = await web.get("/admin/roles")
    token = csrf_from(page.text)
    for action in ("grant", "revoke"):
        done = await web.post(
            "/admin/roles",
            data={"csrf_token": token, "userid": "lisi", "role": "finance", "action": action},
            headers={"User-Agent": AGENT},
        )
        assert done.status_code == 303
    async with store.db.session() as session:
        rows = (
            await session.exec(
                select(AuditEntry).where(AuditEntry.target == "lisi").order_by(col(AuditEntry.id))
            )
        ).all()
    assert [(r.action, r.actor, r.user_agent) for r in rows] == [
        ("role.grant", "sunqi", AGENT),
        ("role.revoke", "sunqi", AGENT),
    ]
    assert all(r.ip for r in rows)  # the ASGI test client's address


async def test_events_posted_through_the_api_are_audited(
    store: Store, company: Company, web: httpx.AsyncClient
) -> None:
    async with store.db.session() as session:
        token = await make_token(session, Role.hr, "zhaoliu")
        await session.commit()
    event = {
        "external_id": "doc:1",
        "type": "doc.shared",
        "actor": "zhangsan",
        "occurred_at": "2026-11-24T09:30:00+08:00",
        "attributes": {},
    }
    answer = await web.post(
        "/api/v1/events", json=[event, event, {"type": "x"}], headers=bearer(token)
    )
    assert answer.status_code in (200, 207)
    async with store.db.session() as session:
        row = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "events.post"))
        ).one()
    assert row.actor.startswith("zhaoliu") or row.actor.startswith("token:")
    assert row.details["events"] == 3
    assert row.details.get("invalid") == 1
