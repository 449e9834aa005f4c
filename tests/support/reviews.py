"""A company with rules whose awards wait for review, on either database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.auth.permissions import Principal
from points.auth.service import principal_for_employee
from points.ledger.models import AccountKind, LedgerTransaction
from points.ledger.service import balances
from points.org.models import Department, Employee, Role
from points.reviews.models import PendingAward
from points.rulesets.service import activate, save_draft
from tests.support.factories import make_department, make_employee
from tests.support.services import Store

REVIEWED_RULES = """\
- id: case-study
  title: 最佳实践案例
  title_en: Best-practice case
  when: approval.submitted
  if: template == "案例"
  points: 20
  cap: {per: week, max: 30}
  review: {by: hr, expires: 14d}
- id: training
  title: 培训证书
  title_en: Training certificate
  when: doc.shared
  points: 10
  once_per: attributes.doc_id
  review: {by: head, expires: 7d}
- id: approval-on-time
  title: 按时提交审批
  when: approval.submitted
  if: on_time
  points: 5
"""


@dataclass
class Reviewed:
    sales: Department
    east: Department
    finance: Department
    zhang: Employee  # earns, in 华东区 under 销售部
    head: Employee  # runs 销售部
    other_head: Employee  # runs 财务部
    hr: Employee
    admin: Employee


async def reviewed_company(store: Store, rules: str = REVIEWED_RULES) -> Reviewed:
    async with store.db.session() as session:
        sales = await make_department(session, "销售部")
        east = await make_department(session, "华东区", parent=sales)
        finance = await make_department(session, "财务部")
        zhang = await make_employee(session, east, userid="zhangsan", name="张三")
        head = await make_employee(session, sales, userid="wangwu", name="王五", role=Role.head)
        other = await make_employee(session, finance, userid="qianer", name="钱二", role=Role.head)
        hr = await make_employee(session, finance, userid="zhaoliu", name="赵六", role=Role.hr)
        admin = await make_employee(session, finance, userid="sunqi", name="孙七", role=Role.admin)
        draft = await save_draft(session, source=rules, author="zhaoliu")
        assert draft.id is not None
        await activate(session, version_id=draft.id, author="zhaoliu")
        await session.commit()
    return Reviewed(sales, east, finance, zhang, head, other, hr, admin)


async def as_principal(session: AsyncSession, employee: Employee) -> Principal:
    fresh = await session.get(Employee, employee.id)
    assert fresh is not None
    return await principal_for_employee(session, fresh)


async def available(session: AsyncSession, employee: Employee) -> int:
    assert employee.id is not None
    return (await balances(session, employee.id))[AccountKind.available]


async def pending_of(session: AsyncSession, employee: Employee) -> list[PendingAward]:
    rows = await session.exec(
        select(PendingAward)
        .where(PendingAward.employee_id == employee.id)
        .order_by(col(PendingAward.id))
    )
    return list(rows.all())


async def ledger_lines(session: AsyncSession, key_prefix: str = "award:") -> int:
    found = await session.exec(
        select(func.count())
        .select_from(LedgerTransaction)
        .where(col(LedgerTransaction.key).startswith(key_prefix))
    )
    return int(found.one())
