"""The privacy notice, one's own data, the retention run and anonymised leavers."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import httpx
from sqlmodel import select

from points.audit.models import AuditEntry
from points.db import utcnow
from points.events.models import ActivityEvent
from points.events.schemas import EventIn
from points.events.service import ingest
from points.jobs import InlineQueue, JobContext, commit
from points.ledger.models import LedgerTransaction
from points.ledger.participation import roll_changed
from points.ledger.reconcile import reconcile
from points.ops.jobs import privacy_retention
from points.org.leavers import mark_left
from points.org.models import Employee, Role
from points.rewards.workflow import release_holds_of
from tests.support.factories import csrf_from, login, make_token
from tests.support.operations import Company, bearer
from tests.support.services import Store


async def test_privacy_notice_is_public_linked_and_editable_by_admins(
    store: Store, company: Company, web: httpx.AsyncClient
) -> None:
    notice = await web.get("/privacy")
    assert notice.status_code == 200
    for heading in (
        "我们从企业微信收集什么",
        "为什么收集",
        "保存多久",
        "谁能看到什么",
        "申诉与退出",
    ):
        assert heading in notice.text
    english = await web.get("/privacy", headers={"Accept-Language": "en"})
    assert "What we collect from WeCom" in english.text
    assert 'href="/privacy"' in (await web.get("/login")).text
    await login(web, "zhangsan")
    assert 'href="/privacy"' in (await web.get("/")).text
    # An employee may not edit it.
    page = await web.get("/privacy")
    refused = await web.post(
        "/admin/privacy",
        data={"csrf_token": csrf_from(page.text), "locale": "zh_CN", "body": "x"},
    )
    assert refused.status_code == 403
    await login(web, "sunqi")
    editor = await web.get("/admin/privacy")
    assert editor.status_code == 200
    saved = await web.post(
        "/admin/privacy",
        data={
            "csrf_token": csrf_from(editor.text),
            "locale": "zh_CN",
            "body": "## 我们收集什么\n- 姓名与部门\n数据保存两年。",
        },
    )
    assert saved.status_code == 303
    shown = await web.get("/privacy")
    assert "<h2>我们收集什么</h2>" in shown.text
    assert "<li>姓名与部门</li>" in shown.text
    assert "为什么收集" not in shown.text
    async with store.db.session() as session:
        audit = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "privacy.notice"))
        ).one()
        assert audit.actor == "sunqi"


async def _event(store: Store, userid: str, external_id: str, days_ago: int) -> None:
    async with store.db.session() as session:
        await ingest(
            session,
            "api",
            [
                EventIn.model_validate(
                    {
                        "external_id": external_id,
                        "type": "approval.submitted",
                        "actor": userid,
                        "occurred_at": (utcnow() - timedelta(days=days_ago)).isoformat(),
                        "attributes": {"template": "报销", "sp_no": external_id, "on_time": True},
                    }
                )
            ],
        )
        await commit(session, None)  # stored, not scored: retention is under test


async def test_export_my_data_as_json_and_csv(
    store: Store, company: Company, web: httpx.AsyncClient
) -> None:
    await _event(store, "zhangsan", "sp-1", 2)
    await _event(store, "lisi", "sp-2", 2)
    async with store.db.session() as session:
        token = await make_token(session, Role.employee, "zhangsan")
        await session.commit()
    filed = await web.post(
        "/api/v1/appeals",
        json={"message": "报销审批没有积分", "entry_id": None, "occurred_on": None},
        headers=bearer(token),
    )
    assert filed.status_code == 201
    data = (await web.get("/api/v1/me/export", headers=bearer(token))).json()
    assert data["person"]["userid"] == "zhangsan"
    assert [e["external_id"] for e in data["events"]] == ["sp-1"]  # never someone else's
    assert data["events"][0]["attributes"]["template"] == "报销"
    assert [a["message"] for a in data["appeals"]] == ["报销审批没有积分"]
    assert set(data) == {"person", "events", "entries", "redemptions", "appeals"}
    await login(web, "zhangsan")
    download = await web.get("/privacy/my-data.csv")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.text.lstrip("\ufeff"))))
    assert rows[0] == ["section", "field", "value"]
    assert {r[0] for r in rows[1:]} >= {"person", "events", "appeals"}
    assert "sp-2" not in download.text
    async with store.db.session() as session:
        exports = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "privacy.export"))
        ).all()
        assert len(exports) == 2


async def test_retention_clears_old_attributes_and_anonymises_leavers(
    store: Store, company: Company
) -> None:
    await _event(store, "zhangsan", "old-1", 100)
    await _event(store, "zhangsan", "new-1", 5)
    settings = store.settings.model_copy(
        update={"EVENT_RETENTION_DAYS": 90, "LEAVER_ANONYMISE_DAYS": 30}
    )
    async with store.db.session() as session:
        await mark_left(
            session,
            settings,
            "lisi",
            "离职",
            release_holds=release_holds_of,
            roll_changed=roll_changed,
            actor="hr",
            left_on=date.today() - timedelta(days=40),
        )
        await session.commit()
    async with store.db.session() as session:
        before = len((await session.exec(select(LedgerTransaction))).all())
    ctx = JobContext(settings, store.db, InlineQueue(settings, store.db))
    first = await privacy_retention(ctx)
    assert first == {"events_cleared": 1, "leavers_anonymised": 1, "job_runs_pruned": 0}
    assert await privacy_retention(ctx) == {
        "events_cleared": 0,
        "leavers_anonymised": 0,
        "job_runs_pruned": 0,
    }
    async with store.db.session() as session:
        events = {e.external_id: e for e in (await session.exec(select(ActivityEvent))).all()}
        assert events["old-1"].attributes == {}
        assert events["old-1"].payload_hash  # a late replay is still recognised
        assert events["new-1"].attributes["template"] == "报销"
        assert len((await session.exec(select(LedgerTransaction))).all()) == before
        leaver = await session.get(Employee, company.colleague.id)
        assert leaver is not None
        assert leaver.name == f"已离职员工 #{leaver.id}"
        assert leaver.userid == f"left-{leaver.id}"
        names = [e.name for e in (await session.exec(select(Employee))).all()]
        assert "李四" not in names
        report = await reconcile(session, settings.zone)
        assert report.clean
