"""Connector health at a glance: lag, skipped records and backoff on /admin/wecom, in
/metrics and /admin/events, and a warning to admins when a connector falls behind."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlmodel import col, select

from points.db import utcnow
from points.devtools.fake_wecom import FakeWeCom
from points.jobs import InlineQueue
from points.notifications.models import Notification
from points.org.models import Role
from points.settings import Settings
from points.wecom.connectors import KIND_LAG_WARNING
from points.wecom.jobs import run_connector_job
from points.wecom.models import ConnectorState
from tests.support.factories import login, make_department, make_employee
from tests.support.services import Store
from tests.support.wecom import Clock


async def _team(store: Store, fake: FakeWeCom) -> None:
    async with store.db.session() as session:
        team = await make_department(session)
        for user in fake.users:
            await make_employee(session, team, userid=user["userid"], name=user["name"])
        await make_employee(session, team, userid="admin1", name="管理员", role=Role.admin)
        await session.commit()


def _row(html: str, connector: str) -> str:
    match = re.search(r'<tr data-connector="' + connector + r'">(.*?)</tr>', html, re.S)
    assert match, f"no row for {connector}"
    return match.group(1)


def _cell(row: str, testid: str) -> str:
    match = re.search(r'data-testid="' + testid + r'">(.*?)</td>', row, re.S)
    assert match, f"no {testid} cell"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


async def test_admin_page_and_metrics_show_lag_skipped_records_and_backoff(
    web: httpx.AsyncClient,
    pg: Store,
    fake: FakeWeCom,
    jobs: InlineQueue,
) -> None:
    await _team(pg, fake)
    fake.junk_checkins = [None, {"userid": "zhangsan", "checkin_time": -5}]
    await run_connector_job(jobs, "wecom_pull_checkins")
    fake.limits["/cgi-bin/oa/getapprovalinfo"] = 0
    await run_connector_job(jobs, "wecom_pull_approvals")
    async with pg.db.session() as session:
        # The behaviour connector's data stops three days ago.
        session.add(ConnectorState(name="behavior", window_end=utcnow() - timedelta(days=3)))
        await session.commit()

    await login(web, "admin1")
    page = (await web.get("/admin/wecom")).text
    checkins = _row(page, "checkins")
    assert _cell(checkins, "skipped") == "2"
    assert "✓ 正常" in _cell(checkins, "status")
    approvals = _row(page, "approvals")
    assert "限流" in _cell(approvals, "status") and _cell(approvals, "backoff").startswith("至")
    behavior = _row(page, "behavior")
    assert _cell(behavior, "lag").startswith("72") and _cell(behavior, "skipped") == "0"
    assert "72" in page and "落后" in page  # the lag warning above the table (36 h setting)
    assert "impossible checkin_time" in page and "null" in page  # the raw records

    assert "跳过的记录" in page
    english = (await web.get("/admin/wecom", headers={"Accept-Language": "en"})).text
    assert "Skipped records" in english and "Throttled" in english
    assert _cell(_row(english, "behavior"), "lag").startswith("72")

    events_page = (await web.get("/admin/events")).text
    assert 'data-quarantine="checkins"' in events_page

    metrics = (await web.get("/metrics")).text
    assert 'points_wecom_connector_skipped_records{connector="checkins"} 2.0' in metrics
    lag = re.search(r'points_wecom_connector_lag_seconds\{connector="behavior"\} (\S+)', metrics)
    assert lag is not None and 3 * 86400 <= float(lag.group(1)) < 3 * 86400 + 600
    backoff = re.search(
        r'points_wecom_connector_backoff_seconds\{connector="approvals"\} (\S+)', metrics
    )
    assert backoff is not None and 60 <= float(backoff.group(1)) <= 120


async def test_admins_are_warned_once_when_a_connector_lags(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock, settings: Settings
) -> None:
    await _team(pg, fake)
    async with pg.db.session() as session:
        session.add(ConnectorState(name="approvals", window_end=clock.now - timedelta(days=5)))
        await session.commit()
    fake.untrusted_ip = True
    await run_connector_job(timed_jobs, "wecom_pull_approvals")
    await run_connector_job(timed_jobs, "wecom_pull_approvals")
    warnings = await _warnings(pg)
    assert [(n.userid, n.url) for n in warnings] == [("admin1", "/admin/wecom")]
    assert "approvals" in warnings[0].title and "120" in warnings[0].body
    # Caught up: the warning is re-armed for the next episode, not repeated now.
    fake.untrusted_ip = False
    await run_connector_job(timed_jobs, "wecom_pull_approvals")
    async with pg.db.session() as session:
        state = await session.get(ConnectorState, "approvals")
    assert state is not None and state.lag_warned_at is None
    assert len(await _warnings(pg)) == 1


async def _warnings(store: Store) -> list[Notification]:
    async with store.db.session() as session:
        return list(
            (
                await session.exec(
                    select(Notification)
                    .where(Notification.kind == KIND_LAG_WARNING)
                    .order_by(col(Notification.id))
                )
            ).all()
        )
