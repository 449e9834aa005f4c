from __future__ import annotations

from sqlmodel import select

from points.ledger.models import AccountKind, LedgerTransaction
from points.ledger.service import balances
from tests.support.events import event, send
from tests.support.factories import make_department, make_employee
from tests.support.services import Store


async def test_an_on_time_approval_earns_five_points_once(pg: Store) -> None:
    async with pg.db.session() as session:
        sales = await make_department(session, "销售部")
        zhang = await make_employee(session, sales, userid="zhangsan")
        await session.commit()
    approval = event(
        "approval:1:submitted",
        "approval.submitted",
        "zhangsan",
        "2026-11-24T09:30:00",
        template="报销",
        sp_no="1",
        on_time=True,
    )
    assert await send(pg, [approval]) == ["created"]
    assert await send(pg, [approval]) == ["duplicate"]
    async with pg.db.session() as session:
        assert zhang.id is not None
        assert (await balances(session, zhang.id))[AccountKind.available] == 5
        rows = (await session.exec(select(LedgerTransaction))).all()
    assert [(r.rule_id, r.points, r.rule_version) for r in rows] == [("approval-on-time", 5, 1)]
    assert "按时提交审批" in rows[0].reason
