"""WeCom's own customer callbacks earn points under the default rules, once per customer."""

from __future__ import annotations

import time

import httpx
from sqlmodel import col, select
from starlette.applications import Starlette

from points.devtools.fake_wecom import FakeWeCom
from points.events.models import ActivityEvent
from points.ledger.models import LedgerTransaction
from points.org.models import Employee
from points.settings import Settings
from points.wecom.crypto import CallbackCrypto
from points.wecom.samples import external_contact_message
from tests.support.factories import make_department, make_employee
from tests.support.services import Store
from tests.support.wecom import deliver


def _customer(external_userid: str, *tag_ids: str) -> dict[str, object]:
    """``externalcontact/get`` as WeCom documents it: the customer and who follows them."""
    return {
        "external_contact": {"external_userid": external_userid, "name": "客户A", "type": 1},
        "follow_user": [
            {
                "userid": "zhangsan",
                "remark": "",
                "createtime": int(time.time()) - 60,
                "tags": [
                    {"group_name": "客户等级", "tag_name": f"标签{t}", "type": 1, "tag_id": t}
                    for t in tag_ids
                ],
            }
        ],
    }


async def _awards(store: Store) -> list[tuple[str, str | None, int]]:
    async with store.db.session() as session:
        rows = await session.exec(
            select(Employee.userid, LedgerTransaction.rule_id, LedgerTransaction.points)
            .join(Employee, col(Employee.id) == col(LedgerTransaction.employee_id))
            .order_by(col(LedgerTransaction.id))
        )
        return [(u, r, p) for u, r, p in rows.all()]


async def test_adding_and_tagging_a_customer_in_wecom_earns_points_once(
    web: httpx.AsyncClient,
    wapp: Starlette,
    pg: Store,
    fake: FakeWeCom,
    settings: Settings,
    crypto: CallbackCrypto,
) -> None:
    async with pg.db.session() as session:
        sales = await make_department(session, "销售部")
        await make_employee(session, sales, userid="zhangsan", name="张三")
        await session.commit()
    fake.external_contacts["wmCUST0001"] = _customer("wmCUST0001", "etTAG1")
    now = int(time.time())

    def message(change: str, at: int) -> str:
        return external_contact_message(
            change, "zhangsan", "wmCUST0001", create_time=at, corp_id=settings.WECOM_CORP_ID
        )

    added = message("add_external_contact", now - 30)
    assert (await deliver(web, wapp, crypto, added)).status_code == 200
    # WeCom's edit callback says nothing about tags: a job looks them up.
    assert (
        await deliver(web, wapp, crypto, message("edit_external_contact", now - 20))
    ).status_code == 200
    assert await _awards(pg) == [
        ("zhangsan", "customer-added", 1),
        ("zhangsan", "customer-tagged", 2),
    ]

    # WeCom retries the add, the employee tags the same customer again: nothing more.
    await deliver(web, wapp, crypto, added)
    fake.external_contacts["wmCUST0001"] = _customer("wmCUST0001", "etTAG1", "etTAG2")
    await deliver(web, wapp, crypto, message("edit_external_contact", now - 10))
    assert len(await _awards(pg)) == 2
    async with pg.db.session() as session:
        events = (await session.exec(select(ActivityEvent).order_by(col(ActivityEvent.id)))).all()
    assert [e.type for e in events] == ["customer.added", "customer.tagged", "customer.tagged"]
    assert all(e.attributes["external_userid"] == "wmCUST0001" for e in events)
    assert events[2].attributes["tag_ids"] == ["etTAG1", "etTAG2"]
