"""``points wecom simulate``: encrypted callbacks sent to a running instance.

A newcomer without a WeCom company can watch points arrive: approvals decided
promptly (the approver earns), customers added and tagged, people opening the app.
The callbacks are sealed with the instance's own Token, EncodingAESKey and CorpID
(the same ``POINTS_WECOM_*`` settings), exactly as WeCom would send them.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
from sqlmodel import col, select

from points.db import Database
from points.org.models import Employee, EmployeeStatus
from points.settings import Settings
from points.wecom.config import make_crypto
from points.wecom.samples import (
    approval_callback_message,
    approval_detail,
    enter_agent_message,
    external_contact_message,
)

FALLBACK_PEOPLE = ("zhangsan", "lisi", "wangwu", "zhaoliu")
KINDS = ("approval", "customer_added", "customer_tagged", "app_entered")


@dataclass
class Delivery:
    kind: str
    userid: str
    status: int


@dataclass
class SimulationReport:
    url: str
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return sum(1 for d in self.deliveries if d.status == 200)


async def people_to_use(settings: Settings, limit: int = 20) -> list[str]:
    """Active employees of the instance's database, or sample userids if there are none."""
    db = Database(settings)
    try:
        async with db.session() as session:
            rows = await session.exec(
                select(Employee.userid)
                .where(Employee.status == EmployeeStatus.active, col(Employee.excluded).is_(False))
                .order_by(col(Employee.id))
                .limit(limit)
            )
            found = list(rows.all())
    except Exception:  # no database yet: the simulation still shows the callback working
        found = []
    finally:
        await db.dispose()
    return found or list(FALLBACK_PEOPLE)


def build_message(kind: str, index: int, actor: str, other: str, settings: Settings) -> str:
    """One callback message of ``kind``, unique per run and index."""
    now = int(time.time())
    corp = settings.WECOM_CORP_ID
    tag = f"{now}{index:05d}"
    if kind == "approval":
        detail = approval_detail(
            f"SIM{tag}",
            actor,
            now - 3600,
            sp_name="报销",
            sp_status=2,
            approvers=[(other, 2, now - 1800)],  # decided within the hour
        )
        return approval_callback_message(
            detail, status_change=2, create_time=now, corp_id=corp, agent_id=settings.WECOM_AGENT_ID
        )
    if kind == "customer_added":
        return external_contact_message(
            "add_external_contact", actor, f"wmSIM{tag}", create_time=now, corp_id=corp
        )
    if kind == "customer_tagged":
        return external_contact_message(
            "edit_external_contact",
            actor,
            f"wmSIM{tag}",
            create_time=now,
            corp_id=corp,
            tag_ids=["etSIMvip", "etSIMlead"],
        )
    return enter_agent_message(
        actor, create_time=now + index, corp_id=corp, agent_id=settings.WECOM_AGENT_ID or "1"
    )


async def simulate(
    settings: Settings,
    url: str,
    count: int,
    userids: Sequence[str],
    *,
    http: httpx.AsyncClient | None = None,
) -> SimulationReport:
    """Send ``count`` sealed callbacks to ``url`` (``…/wecom/callback``), kinds in turn."""
    async with httpx.AsyncClient(timeout=10) if http is None else _borrowed(http) as client:
        return await _send_all(settings, client, url, count, userids)


@asynccontextmanager
async def _borrowed(http: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    yield http  # the caller's client (tests): not ours to close


async def _send_all(
    settings: Settings, http: httpx.AsyncClient, url: str, count: int, userids: Sequence[str]
) -> SimulationReport:
    crypto = make_crypto(settings)
    report = SimulationReport(url=url)
    people = itertools.cycle(userids)
    for index, kind in zip(range(count), itertools.cycle(KINDS), strict=False):
        actor, other = next(people), next(people)
        sealed = crypto.post_body(
            build_message(kind, index, actor, other, settings),
            agent_id=settings.WECOM_AGENT_ID,
        )
        response = await http.post(
            url,
            params=sealed.params,
            content=sealed.body,
            headers={"Content-Type": "text/xml"},
        )
        report.deliveries.append(Delivery(kind, actor, response.status_code))
    return report
