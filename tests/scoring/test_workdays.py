"""`streak: {workdays: N}` scored into the ledger, in the company calendar HR keeps."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import col, select

from points.events.schemas import EventIn
from points.ledger.models import LedgerTransaction
from points.workdays.service import Day, save_days
from tests.support.events import SHANGHAI, event, send
from tests.support.factories import make_department, make_employee
from tests.support.rulesets import use_rules
from tests.support.services import Store

WORKDAYS = """
- id: checkin-workdays
  title: 按时打卡
  title_en: On-time check-in
  when: checkin.recorded
  if: on_time
  streak: {workdays: 10}
  points: 30
  badge: 全勤之星
"""


def checkins(days: list[date]) -> list[EventIn]:
    return [
        event(
            f"checkin:{d.isoformat()}",
            "checkin.recorded",
            "zhangsan",
            datetime(d.year, d.month, d.day, 8, 55, tzinfo=SHANGHAI),
            checkin_type="上班打卡",
            on_time=True,
        )
        for d in days
    ]


def weekdays(first: date, last: date) -> list[date]:
    span = (last - first).days + 1
    return [d for d in (first + timedelta(days=i) for i in range(span)) if d.isoweekday() <= 5]


async def _setup(store: Store) -> None:
    async with store.db.session() as session:
        sales = await make_department(session, "销售部")
        await make_employee(session, sales, userid="zhangsan")
        # 2026 National Day as published: 10-01…10-07 off, 09-20 and 10-10 working days.
        days = [Day(date(2026, 10, d), "off", "国庆节") for d in range(1, 8)]
        days += [Day(date(2026, 9, 20), "work", "国庆节补班"), Day(date(2026, 10, 10), "work", "")]
        await save_days(session, days, actor="zhaoliu")
        await session.commit()
    await use_rules(store, WORKDAYS)


async def _bonuses(store: Store) -> list[tuple[date, int, str]]:
    async with store.db.session() as session:
        rows = (
            await session.exec(select(LedgerTransaction).order_by(col(LedgerTransaction.id)))
        ).all()
    return [(r.effective_at.astimezone(SHANGHAI).date(), r.points, r.reason) for r in rows]


async def _scenario(store: Store) -> None:
    await _setup(store)
    # Across National Day: eight working days, the holiday, then two more: ten in a row.
    days = [*weekdays(date(2026, 9, 21), date(2026, 9, 30)), date(2026, 10, 8), date(2026, 10, 9)]
    await send(store, checkins(days))
    assert await _bonuses(store) == [(date(2026, 10, 9), 30, "连续 10 个工作日按时打卡")]
    # Missing the make-up Saturday 10-10 breaks the run: 10-12…10-23 is a new one of ten.
    await send(store, checkins(weekdays(date(2026, 10, 12), date(2026, 10, 22))))
    assert len(await _bonuses(store)) == 1
    # A missed working day (Friday 10-23, then nothing until November) breaks it too;
    # two Monday–Friday weeks across a weekend earn it once, on the tenth working day.
    await send(store, checkins(weekdays(date(2026, 11, 16), date(2026, 11, 27))))
    assert [d for d, *_ in await _bonuses(store)] == [date(2026, 10, 9), date(2026, 11, 27)]


async def test_working_day_streaks_follow_the_company_calendar(pg: Store, lite: Store) -> None:
    for store in (pg, lite):
        await _scenario(store)
