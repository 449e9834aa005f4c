"""Separation of duties: nobody pays themselves; large adjustments take two; submitters
are recorded; one poison event never holds back its batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlmodel import col, select

from points.adjustments.models import PendingAdjustment
from points.audit.models import AuditEntry
from points.events.models import ActivityEvent, EventStatus
from points.jobs import InlineQueue
from points.ledger.models import AccountKind
from points.ledger.service import balances
from points.org.models import Employee, Role
from points.rulesets.service import ensure_active
from tests.support.factories import csrf_from, login, make_token
from tests.support.org import Org
from tests.support.services import Store


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


async def available(pg: Store, employee: Employee) -> int:
    assert employee.id is not None
    async with pg.db.session() as session:
        return (await balances(session, employee.id))[AccountKind.available]


async def tokens(pg: Store, *pairs: tuple[Role, str | None]) -> list[str]:
    async with pg.db.session() as session:
        made = [await make_token(session, role, userid) for role, userid in pairs]
        await session.commit()
    return made


async def test_hr_cannot_adjust_their_own_points_by_api_or_page(
    pg: Store, org: Org, client: httpx.AsyncClient
) -> None:
    [hr] = await tokens(pg, (Role.hr, org.hr.userid))
    refused = await client.post(
        f"/api/v1/employees/{org.hr.userid}/adjustments",
        json={"points": 100_000, "reason": "自己加分"},
        headers=bearer(hr),
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "own_points"
    await login(client, org.hr.userid)
    page = await client.get(f"/people/{org.hr.userid}")
    assert "request_key" not in page.text  # no adjustment form on one's own page
    posted = await client.post(
        f"/people/{org.hr.userid}",
        data={
            "csrf_token": csrf_from(page.text),
            "points": "100",
            "reason": "x",
            "request_key": "k",
        },
    )
    assert posted.status_code == 403
    assert await available(pg, org.hr) == 0


async def test_a_small_adjustment_is_applied_a_large_one_waits_for_a_second_person(
    pg: Store, org: Org, client: httpx.AsyncClient
) -> None:
    hr, admin = await tokens(pg, (Role.hr, org.hr.userid), (Role.admin, org.admin.userid))
    url = f"/api/v1/employees/{org.employee.userid}/adjustments"
    small = await client.post(url, json={"points": 500, "reason": "培训讲师"}, headers=bearer(hr))
    assert small.status_code == 201 and small.json()["status"] == "applied"
    assert await available(pg, org.employee) == 500
    large = await client.post(url, json={"points": 501, "reason": "年度之星"}, headers=bearer(hr))
    assert large.status_code == 202, large.text
    pending_id = large.json()["pending_id"]
    assert await available(pg, org.employee) == 500  # nothing yet
    # The requester cannot approve their own request.
    own = await client.post(f"/api/v1/adjustments/{pending_id}/approve", headers=bearer(hr))
    assert own.status_code == 403 and own.json()["error"]["code"] == "second_person"
    approved = await client.post(f"/api/v1/adjustments/{pending_id}/approve", headers=bearer(admin))
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert await available(pg, org.employee) == 1001
    again = await client.post(f"/api/v1/adjustments/{pending_id}/approve", headers=bearer(admin))
    assert again.status_code == 200
    assert await available(pg, org.employee) == 1001  # once
    async with pg.db.session() as session:
        actions = (
            await session.exec(
                select(AuditEntry.action).where(col(AuditEntry.action).startswith("points.adjust"))
            )
        ).all()
    assert sorted(actions) == [
        "points.adjust",
        "points.adjust",
        "points.adjust.approve",
        "points.adjust.request",
    ]


async def test_the_person_adjusted_cannot_be_the_second_approver(
    pg: Store, org: Org, client: httpx.AsyncClient
) -> None:
    hr, admin = await tokens(pg, (Role.hr, org.hr.userid), (Role.admin, org.admin.userid))
    asked = await client.post(
        f"/api/v1/employees/{org.admin.userid}/adjustments",
        json={"points": 10_000, "reason": "奖金"},
        headers=bearer(hr),
    )
    assert asked.status_code == 202
    pending_id = asked.json()["pending_id"]
    refused = await client.post(f"/api/v1/adjustments/{pending_id}/approve", headers=bearer(admin))
    assert refused.status_code == 403
    async with pg.db.session() as session:
        pending = await session.get(PendingAdjustment, pending_id)
        assert pending is not None and pending.status == "pending"
    # The page shows it to the admin without an approve button.
    await login(client, org.admin.userid)
    page = await client.get("/adjustments")
    assert "奖金" in page.text and f"/adjustments/{pending_id}/approve" not in page.text


async def test_adjustment_api_refuses_unknown_fields_and_out_of_range_points(
    pg: Store, org: Org, client: httpx.AsyncClient
) -> None:
    [hr] = await tokens(pg, (Role.hr, org.hr.userid))
    url = f"/api/v1/employees/{org.employee.userid}/adjustments"
    for body in (
        {"points": 5, "reason": "x", "author": "someone-else"},
        {"points": 2**40, "reason": "x"},
        {"points": 0, "reason": "x"},
        {"points": 5, "reason": ""},
    ):
        answer = await client.post(url, json=body, headers=bearer(hr))
        assert answer.status_code == 422, (body, answer.text)
    employee_token = (await tokens(pg, (Role.employee, org.colleague.userid)))[0]
    forbidden = await client.post(
        url, json={"points": 5, "reason": "x"}, headers=bearer(employee_token)
    )
    assert forbidden.status_code == 403


async def test_events_about_oneself_are_refused_and_submitters_recorded(
    pg: Store, org: Org, client: httpx.AsyncClient, app: object
) -> None:
    [hr] = await tokens(pg, (Role.hr, org.hr.userid))
    now = datetime.now(UTC).isoformat()
    batch = [
        {"external_id": "doc:1", "type": "doc.shared", "actor": org.hr.userid, "occurred_at": now},
        {
            "external_id": "doc:2",
            "type": "doc.shared",
            "actor": org.employee.userid,
            "occurred_at": now,
        },
    ]
    answer = await client.post("/api/v1/events", json=batch, headers=bearer(hr))
    assert answer.status_code == 207
    own, other = answer.json()["results"]
    assert own["status"] == "invalid" and own["error"].startswith("actor")
    assert other["status"] == "created"
    async with pg.db.session() as session:
        stored = (await session.exec(select(ActivityEvent))).all()
        audit = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "events.post"))
        ).one()
    assert [(e.actor, e.submitted_by) for e in stored] == [(org.employee.userid, audit.actor)]
    assert audit.actor.startswith("token:") and audit.details == {
        "events": 2,
        "created": 1,
        "invalid": 1,
    }
    await login(client, org.admin.userid)
    page = await client.get("/admin/events")
    assert audit.actor in page.text


async def test_an_event_dated_9999_is_refused_per_item_and_the_good_one_is_scored(
    pg: Store, org: Org, client: httpx.AsyncClient, app: object
) -> None:
    async with pg.db.session() as session:
        await ensure_active(session)
        await session.commit()
    [hr] = await tokens(pg, (Role.hr, None))
    now = datetime.now(UTC)
    batch = [
        {
            "external_id": "bad",
            "type": "doc.shared",
            "actor": org.employee.userid,
            "occurred_at": "9999-12-31T00:00:00+08:00",
        },
        {
            "external_id": "old",
            "type": "doc.shared",
            "actor": org.employee.userid,
            "occurred_at": "1999-12-31T00:00:00+08:00",
        },
        {
            "external_id": "soon",
            "type": "doc.shared",
            "actor": org.employee.userid,
            "occurred_at": (now + timedelta(hours=25)).isoformat(),
        },
        {
            "external_id": "good",
            "type": "doc.shared",
            "actor": org.employee.userid,
            "occurred_at": now.isoformat(),
        },
    ]
    answer = await client.post("/api/v1/events", json=batch, headers=bearer(hr))
    statuses = [r["status"] for r in answer.json()["results"]]
    assert statuses == ["invalid", "invalid", "invalid", "created"]
    assert "occurred_at" in answer.json()["results"][0]["error"]
    queue = app.state.queue  # type: ignore[attr-defined]
    assert isinstance(queue, InlineQueue)
    await queue.drain()
    assert await available(pg, org.employee) == 3


async def test_a_poison_event_is_parked_and_never_holds_back_its_batch(
    pg: Store, org: Org, client: httpx.AsyncClient, app: object
) -> None:
    """An event intake accepts but the scorer cannot handle: a once-per value longer than
    the ledger's column. It is parked with its error; the good event beside it is scored."""
    async with pg.db.session() as session:
        await ensure_active(session)
        await session.commit()
    [hr] = await tokens(pg, (Role.hr, None))
    now = datetime.now(UTC).isoformat()
    approval = {"on_time": True, "template": "报销"}
    batch = [
        {
            "external_id": "poison",
            "type": "approval.submitted",
            "actor": org.employee.userid,
            "occurred_at": now,
            "attributes": {**approval, "sp_no": "x" * 5000},
        },
        {
            "external_id": "good",
            "type": "approval.submitted",
            "actor": org.employee.userid,
            "occurred_at": now,
            "attributes": {**approval, "sp_no": "202611270001"},
        },
    ]
    answer = await client.post("/api/v1/events", json=batch, headers=bearer(hr))
    assert [r["status"] for r in answer.json()["results"]] == ["created", "created"]
    queue = app.state.queue  # type: ignore[attr-defined]
    assert isinstance(queue, InlineQueue)
    await queue.drain()
    async with pg.db.session() as session:
        events = {e.external_id: e for e in (await session.exec(select(ActivityEvent))).all()}
    assert events["good"].status == EventStatus.scored
    assert events["poison"].status == EventStatus.parked
    assert "too long" in (events["poison"].last_error or "")
    assert await available(pg, org.employee) == 5
    # Visible on /admin/events with its error, and retryable from there.
    await login(client, org.admin.userid)
    page = await client.get("/admin/events")
    assert "poison" in page.text and "too long" in page.text
    retried = await client.post(
        "/admin/events",
        data={"csrf_token": csrf_from(page.text), "event_id": str(events["poison"].id)},
    )
    assert retried.status_code == 303
    await queue.drain()
    async with pg.db.session() as session:
        again = await session.get(ActivityEvent, events["poison"].id)
    # Retried alone it failed again: counted, and parked again after MAX_ATTEMPTS sweeps.
    assert again is not None and again.attempts == 1 and "too long" in (again.last_error or "")
