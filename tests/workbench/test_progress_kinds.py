"""Simulation and back-apply give what live scoring gave: milestones, working-day streaks."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlmodel import select

from points.events.schemas import EventIn
from points.ledger.models import LedgerTransaction
from points.rulesets.service import active_version, compiled
from points.workbench.backapply import plan
from points.workbench.simulation import simulate_stored, window_for
from points.workdays.service import Day, save_days
from tests.support.events import SHANGHAI, event, send
from tests.support.factories import make_department, make_employee
from tests.support.rulesets import use_rules
from tests.support.services import Store

RULES = """
- id: doc-milestones
  title: 分享文档
  title_en: shared document
  when: doc.shared
  milestone:
    levels:
      - {at: 10, points: 10, badge: 分享达人·铜}
      - {at: 20, points: 30, badge: 分享达人·银}
- id: checkin-workdays
  title: 按时打卡
  when: checkin.recorded
  if: on_time
  streak: {workdays: 5}
  points: 7
"""
START = datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)


def activity() -> list[EventIn]:
    shares = [
        event(
            f"doc:{who}:{i}", "doc.shared", who, START + timedelta(hours=8 * i), doc_id=f"d{who}{i}"
        )
        for i in range(1, 23)
        for who in ("zhangsan", "lisi")
        if who == "zhangsan" or i <= 20  # 李四 shares 20, 张三 22
    ]
    days = [START.date() + timedelta(days=n) for n in range(26)]
    checkins = [
        event(
            f"checkin:{who}:{d}",
            "checkin.recorded",
            who,
            datetime(d.year, d.month, d.day, 8, 50, tzinfo=SHANGHAI),
            on_time=True,
        )
        for d in days
        for who in ("zhangsan", "lisi")
        if d.isoweekday() <= 5 and not (who == "lisi" and d == date(2026, 11, 18))
    ]
    return sorted([*shares, *checkins], key=lambda e: e.occurred_at)


async def _ledger_by_rule(store: Store) -> dict[str, int]:
    async with store.db.session() as session:
        rows = (await session.exec(select(LedgerTransaction))).all()
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[str(row.rule_id)] += row.points
    return dict(totals)


async def _scenario(store: Store) -> None:
    async with store.db.session() as session:
        sales = await make_department(session, "销售部")
        await make_employee(session, sales, userid="zhangsan")
        await make_employee(session, sales, userid="lisi")
        await save_days(session, [Day(date(2026, 11, 11), "off", "公司纪念日")], actor="zhaoliu")
        await session.commit()
    await use_rules(store, RULES)
    await send(store, activity())
    live = await _ledger_by_rule(store)
    assert live["doc-milestones"] == 80 and live["checkin-workdays"] > 0
    zone = store.settings.zone
    window = window_for(zone, since=date(2026, 11, 1), until=date(2026, 11, 30))
    async with store.db.session() as session:
        version = await active_version(session)
        assert version is not None
        ruleset = compiled(version)
        report = await simulate_stored(session, ruleset, ruleset, window, zone)
        assert {r: t.active for r, t in report.by_rule.items()} == live
        assert await plan(session, ruleset, window, zone) == []
    # Revocations: lisi's 20th share goes (19 left: silver back), zhangsan's 3rd (21: kept).
    await send(
        store,
        [
            event("del:l", "doc.deleted", "lisi", START + timedelta(days=9), doc_id="dlisi20"),
            event(
                "del:z", "doc.deleted", "zhangsan", START + timedelta(days=9), doc_id="dzhangsan3"
            ),
        ],
    )
    assert (await _ledger_by_rule(store))["doc-milestones"] == 50
    async with store.db.session() as session:
        # From a Monday right after a run of five: streaks restart at the window's start
        # (README), milestones carry their count and held levels over.
        for since in (date(2026, 11, 1), date(2026, 11, 9)):
            window = window_for(zone, since=since, until=date(2026, 11, 30))
            lines = await plan(session, ruleset, window, zone)
            assert lines == [], (since, lines)


async def test_simulation_and_back_apply_agree_with_live_scoring(pg: Store, lite: Store) -> None:
    for store in (pg, lite):
        await _scenario(store)
